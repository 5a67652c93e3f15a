"""hub.ignite.protocol: framing, handshake and response parsing, byte for byte."""

from __future__ import annotations

import struct

from hub.ignite.protocol import (
    NOTIFICATION_PAYLOAD,
    OpCode,
    Status,
    decode_handshake,
    encode_handshake,
    encode_request,
    encode_string,
    notification_error,
    notification_op,
    parse_response,
    response_id,
    topology_version,
)


def test_handshake_is_what_pyignite_sends() -> None:
    body = struct.pack("<bhhhbbib", 1, 1, 7, 0, 2, 0x0C, 1, 0x04)
    assert encode_handshake() == struct.pack("<i", len(body)) + body
    creds = body + b"\x09" + struct.pack("<i", 1) + b"u" + b"\x09" + struct.pack("<i", 2) + b"pw"
    assert encode_handshake(("u", "pw")) == struct.pack("<i", len(creds)) + creds


def test_handshake_replies() -> None:
    assert decode_handshake(b"\x01" + bytes(20)).ok
    refused = b"\x00" + struct.pack("<hhh", 2, 17, 0) + encode_string("bad") + struct.pack("<i", 2000)
    assert decode_handshake(refused).status == Status.AUTH_FAILED
    null_msg = b"\x00" + struct.pack("<hhh", 2, 17, 0) + b"\x65" + struct.pack("<i", 7)
    assert decode_handshake(null_msg).status == 7
    assert decode_handshake(b"").status is None and not decode_handshake(b"\x00\x01").ok


def test_request_frame() -> None:
    assert encode_request(OpCode.CACHE_GET_NAMES, 9) == struct.pack("<ihq", 10, 1050, 9)
    assert encode_request(OpCode.RESOURCE_CLOSE, 1, b"xy") == struct.pack("<ihq", 12, 0, 1) + b"xy"


def test_responses() -> None:
    plain = struct.pack("<iqh", 0, 5, 0) + b"body"
    r = parse_response(plain)
    assert (r.status, r.message, bytes(r.payload)) == (0, "", b"body")
    assert response_id(plain) == 5 and topology_version(plain) is None
    error = struct.pack("<i", 1000) + encode_string("gone")
    topo_err = struct.pack("<iqhqi", 0, 5, 0x03, 7, 1) + error + b"x"
    r = parse_response(topo_err)
    assert (r.status, r.message, bytes(r.payload)) == (1000, "gone", b"x")
    assert topology_version(topo_err) == (7, 1)


def test_notifications() -> None:
    ok = struct.pack("<iqhh", 0, 42, 0x04, 2007) + b"events"
    assert notification_op(ok) == OpCode.QUERY_CONTINUOUS_EVENT_NOTIFICATION
    assert notification_error(ok) is None and ok[NOTIFICATION_PAYLOAD:] == b"events"
    err = struct.pack("<iqhh", 0, 42, 0x05, 2007) + struct.pack("<i", 1) + encode_string("boom")
    assert notification_error(err) == (1, "boom")
