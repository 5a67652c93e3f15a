"""The Ignite thin-client wire format, as far as the hub speaks it itself: op codes, request and response
framing, the 1.7.0 handshake and the binary type codes.

Everything here is pure: bytes in, values out, no sockets and no pyignite. The users are the CQ
connection (:mod:`hub.ignite.connection`), the store's fast reads (``hub/store/ignite/read.py``, its SQL
through :mod:`hub.ignite.sql`), the store's connection probe and the readiness probe
(:mod:`hub.ignite.readiness`).

Frames (all little-endian)::

    request   int length · short op code · long request id · payload
    response  int length · long request id · short flags · [long+int topology version if flags & 0x02]
              · [int status · String message if flags & 0x01] · payload
    notify    int length · long resource id · short flags (0x04) · short op code · payload
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

#: The Ignite server release synchub is built and tested against (also in the dev pom.xml and compose.yaml).
IGNITE_VERSION = "2.17.0"

#: Thin-client protocol version the handshake asks for.
PROTOCOL_VERSION = (1, 7, 0)
_CLIENT_TYPE_THIN = 2
#: Feature bits offered in the handshake (one byte: bit 2, as pyignite 0.6 sends it).
_FEATURES = b"\x04"

I8 = struct.Struct("<b")
I16 = struct.Struct("<h")
U16 = struct.Struct("<H")
I32 = struct.Struct("<i")
I64 = struct.Struct("<q")
F32 = struct.Struct("<f")
F64 = struct.Struct("<d")
#: request header: length, op code, request id
REQUEST_HEADER = struct.Struct("<ihq")
#: response header: length, request id, flags
RESPONSE_HEADER = struct.Struct("<iqh")
#: topology version in a response with FLAG_TOPOLOGY: major, minor
TOPOLOGY_VERSION = struct.Struct("<qi")
#: a String value's header: type code, byte length
STRING_HEADER = struct.Struct("<bi")

FLAG_ERROR = 0x01
FLAG_TOPOLOGY = 0x02
FLAG_NOTIFICATION = 0x04

#: Offset of the payload in a response without topology version or error.
_RESPONSE_PAYLOAD = RESPONSE_HEADER.size


class OpCode(enum.IntEnum):
    """Thin-client operations the hub sends (or, for notifications, receives) itself."""

    RESOURCE_CLOSE = 0
    CACHE_GET_ALL = 1003
    CACHE_PUT_ALL = 1004
    CACHE_GET_NAMES = 1050
    QUERY_SCAN = 2000
    QUERY_SCAN_CURSOR_GET_PAGE = 2001
    QUERY_SQL_FIELDS = 2004
    QUERY_SQL_FIELDS_CURSOR_GET_PAGE = 2005
    QUERY_CONTINUOUS = 2006
    QUERY_CONTINUOUS_EVENT_NOTIFICATION = 2007
    GET_BINARY_TYPE = 3002


class Status(enum.IntEnum):
    """Response and handshake status codes the hub tells apart."""

    SUCCESS = 0
    CACHE_DOES_NOT_EXIST = 1000
    TOO_MANY_CURSORS = 1010
    RESOURCE_DOES_NOT_EXIST = 1011
    AUTH_FAILED = 2000


class TypeCode(enum.IntEnum):
    """Type codes of the Ignite binary format (the byte in front of every value)."""

    BYTE = 1
    SHORT = 2
    INT = 3
    LONG = 4
    FLOAT = 5
    DOUBLE = 6
    CHAR = 7
    BOOL = 8
    STRING = 9
    UUID = 10
    DATE = 11
    BYTE_ARR = 12
    SHORT_ARR = 13
    INT_ARR = 14
    LONG_ARR = 15
    FLOAT_ARR = 16
    DOUBLE_ARR = 17
    CHAR_ARR = 18
    BOOL_ARR = 19
    STRING_ARR = 20
    UUID_ARR = 21
    DATE_ARR = 22
    OBJ_ARR = 23
    COLLECTION = 24
    MAP = 25
    BINARY_OBJ = 27
    ENUM = 28
    ENUM_ARR = 29
    DECIMAL = 30
    DECIMAL_ARR = 31
    TIMESTAMP = 33
    TIMESTAMP_ARR = 34
    TIME = 36
    TIME_ARR = 37
    BINARY_ENUM = 38
    NULL = 101
    HANDLE = 102
    COMPLEX_OBJ = 103


NULL = bytes([TypeCode.NULL])


# --------------------------------------------------------------------------- values


def encode_string(value: str) -> bytes:
    """A String value: type code 9, int byte length, UTF-8 bytes."""
    raw = value.encode()
    return STRING_HEADER.pack(TypeCode.STRING, len(raw)) + raw


def decode_string(buf: bytes | bytearray, pos: int) -> tuple[str, int]:
    """A String value (or NULL) at ``pos``: (text, position after it); NULL reads as ""."""
    if buf[pos] == TypeCode.NULL:
        return "", pos + 1
    n = I32.unpack_from(buf, pos + 1)[0]
    return bytes(buf[pos + 5 : pos + 5 + n]).decode("utf-8", "replace"), pos + 5 + n


# --------------------------------------------------------------------------- requests and responses


def encode_request(op: int, req_id: int, payload: bytes = b"") -> bytes:
    """One request frame: header (length, op code, request id) and ``payload``."""
    return REQUEST_HEADER.pack(REQUEST_HEADER.size - 4 + len(payload), op, req_id) + payload


class Response:
    """A parsed ordinary response frame."""

    __slots__ = ("message", "payload", "status")

    def __init__(self, status: int, message: str, payload: memoryview) -> None:
        self.status = status
        self.message = message
        self.payload = payload


def parse_response(frame: bytearray | bytes) -> Response:
    """Parse a protocol >= 1.4 response frame: header, optional topology version, optional error."""
    flags = RESPONSE_HEADER.unpack_from(frame, 0)[2]
    pos = _RESPONSE_PAYLOAD
    if flags & FLAG_TOPOLOGY:
        pos += TOPOLOGY_VERSION.size
    status, message = 0, ""
    if flags & FLAG_ERROR:
        status = I32.unpack_from(frame, pos)[0]
        message, pos = decode_string(frame, pos + 4)
    return Response(status, message, memoryview(frame)[pos:])


def response_id(frame: bytearray | bytes) -> int:
    """The request id (or, for a notification, the resource id) of a response frame."""
    req_id: int = RESPONSE_HEADER.unpack_from(frame, 0)[1]
    return req_id


def response_flags(frame: bytearray | bytes) -> int:
    flags: int = RESPONSE_HEADER.unpack_from(frame, 0)[2]
    return flags


def topology_version(frame: bytearray | bytes) -> tuple[int, int] | None:
    """The affinity topology version a response carries (flag 0x02), else None."""
    if not response_flags(frame) & FLAG_TOPOLOGY:
        return None
    major, minor = TOPOLOGY_VERSION.unpack_from(frame, _RESPONSE_PAYLOAD)
    return int(major), int(minor)


def notification_op(frame: bytearray | bytes) -> int:
    """The op code of a notification frame (after its flags)."""
    op: int = I16.unpack_from(frame, _RESPONSE_PAYLOAD)[0]
    return op


#: Offset of the payload in a notification frame (after its op code).
NOTIFICATION_PAYLOAD = _RESPONSE_PAYLOAD + I16.size


def notification_error(frame: bytearray | bytes) -> tuple[int, str] | None:
    """Status and message of an error notification (flags 0x05), else None."""
    if not response_flags(frame) & FLAG_ERROR:
        return None
    status = I32.unpack_from(frame, NOTIFICATION_PAYLOAD)[0]
    message, _ = decode_string(frame, NOTIFICATION_PAYLOAD + 4)
    return status, message


# --------------------------------------------------------------------------- handshake

_HANDSHAKE_BODY = (
    struct.pack("<bhhhb", 1, *PROTOCOL_VERSION, _CLIENT_TYPE_THIN)
    + STRING_HEADER.pack(0x0C, len(_FEATURES))  # features: byte array (type 12) of one byte
    + _FEATURES
)


def encode_handshake(credentials: tuple[str, str] | None = None) -> bytes:
    """A thin-client 1.7.0 handshake frame (as pyignite sends it), optionally with (user, password)."""
    body = _HANDSHAKE_BODY
    if credentials is not None:
        body += encode_string(credentials[0]) + encode_string(credentials[1])
    return I32.pack(len(body)) + body


@dataclass(frozen=True, slots=True)
class HandshakeReply:
    """A decoded handshake reply: accepted, or refused with the server's status (None if absent)."""

    ok: bool
    status: int | None = None


def decode_handshake(reply: bytes | bytearray) -> HandshakeReply:
    """Decode a handshake reply body (without its length prefix).

    Success is ``byte 1``; a refusal is ``byte 0`` · 3 shorts (server version) · String message ·
    int status. A short or odd reply decodes as refused without a status.
    """
    if reply[:1] == b"\x01":
        return HandshakeReply(True)
    pos = 7
    if len(reply) <= pos:
        return HandshakeReply(False)
    if reply[pos] == TypeCode.STRING:
        (n,) = I32.unpack_from(reply, pos + 1)
        pos += 5 + n
    else:
        pos += 1  # NULL string
    if len(reply) < pos + 4:
        return HandshakeReply(False)
    (status,) = I32.unpack_from(reply, pos)
    return HandshakeReply(False, int(status))
