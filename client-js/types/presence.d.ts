/**
 * Rooms: presence (who is here, with what state) and ephemeral broadcasts, on the client's own
 * connection (docs/protocol.md "Rooms"). A separate entry point, `synchub-client/presence`:
 *
 *   import { room } from 'synchub-client/presence'
 *   const r = room(client, 'doc-42')
 *   r.addEventListener('join', (e) => render(e.detail.members))
 *   r.join({ name: 'Ada', cursor: null })
 *
 * Events (`CustomEvent`, payload in `detail`): `join`, `leave`, `update` with `{member, members}`,
 * `message` with `{from, user, msg}`, `error` with `{code, msg}` (4403 forbidden, 4409 not
 * joined, 4413 too large, 4429 too many rooms, 4529 broadcast rate; 0: the hub serves no rooms).
 * A joined room joins again after every reconnect; the hub's snapshot then yields only the real
 * differences (a member that reconnected within the grace period never left).
 *
 * Rooms live on the tab that holds the connection (the leader tab); in another tab they wait
 * until this tab leads.
 */
export type SyncClient = import('./client.js').SyncClient;
export type Member = {
    id: string;
    user: string | null;
    state: unknown;
};
export type RoomEventMap = {
    join: {
        member: Member;
        members: Member[];
    };
    leave: {
        member: Member;
        members: Member[];
    };
    update: {
        member: Member;
        members: Member[];
    };
    message: {
        from: string;
        user: string | null;
        msg: unknown;
    };
    error: {
        code: number;
        msg: string;
    };
};
/**
 * The room `name` of `client` (one object per call; each is its own member, told apart by a tag).
 * @param {SyncClient} client
 * @param {string} name
 */
export declare function room(client: SyncClient, name: string): Room;
export declare class Room extends EventTarget {
    #private;
    client: import("./client.js").SyncClient;
    name: string;
    /** @param {SyncClient} client @param {string} name */
    constructor(client: SyncClient, name: string);
    /** The members, this client's own included, as last heard from the hub. */
    get members(): Member[];
    /** Enter the room with `state` (listed to the others), now or once connected. @param {unknown} [state] */
    join(state?: unknown): this;
    /** Change this member's state. @param {unknown} state */
    update(state: unknown): void;
    leave(): void;
    /**
     * Send `msg` to the room's other members, now (nothing is kept: false when not connected).
     * @param {unknown} msg
     */
    broadcast(msg: unknown): boolean;
    /** Leave and forget this room object. */
    close(): void;
}
