import { ProtocolViolation } from './core/messages.js';
export type ServerMessage = import('./core/messages.js').ServerMessage;
export type Limits = {
    /**
     * bytes
     */
    maxFrame: number;
    /**
     * bytes of one string
     */
    maxStrLength: number;
    /**
     * bytes of one binary value
     */
    maxBinLength: number;
    /**
     * items of one list
     */
    maxArrayLength: number;
    /**
     * entries of one map
     */
    maxMapLength: number;
    /**
     * bytes of one extension value
     */
    maxExtLength: number;
};
/** @typedef {import('./core/messages.js').ServerMessage} ServerMessage */
/**
 * @typedef {object} Limits decoder limits for one frame
 * @property {number} maxFrame bytes
 * @property {number} maxStrLength bytes of one string
 * @property {number} maxBinLength bytes of one binary value
 * @property {number} maxArrayLength items of one list
 * @property {number} maxMapLength entries of one map
 * @property {number} maxExtLength bytes of one extension value
 */
/** @type {Limits} any frame a hub sends under the document limits decodes (a map or list of a document is the largest) */
export declare const DEFAULT_LIMITS: Limits;
export type SocketHandlers = {
    open: () => void;
    message: (m: ServerMessage) => void;
    /**
     * the frame was rejected; `close` follows
     */
    violation: (e: ProtocolViolation) => void;
    /**
     * called once
     */
    close: (code: number, reason: string, byClient: boolean) => void;
};
export type Socket = {
    /**
     * encodes and sends
     */
    send: (m: object) => void;
    sendBytes: (bytes: Uint8Array) => void;
    encode: (m: object) => Uint8Array;
    /**
     * closes at once, without waiting for the hub
     */
    close: (code: number, reason: string) => void;
    /**
     * the hub's document limits (`welcome`): widen the
     * decoder to them, hold documents beyond them as placeholders
     */
    follow: (l: import('./core/limits.js').DocLimits) => void;
};
/**
 * @param {typeof WebSocket} WS
 * @param {string} url
 * @param {Limits} limits
 * @param {SocketHandlers} on
 * @returns {Socket}
 */
export declare function openSocket(WS: typeof WebSocket, url: string, limits: Limits, on: SocketHandlers): Socket;
