"""Readiness probes of local nodes: a thin-client handshake (and a request) over a plain socket, and
whether a port is free. Frames come from :mod:`hub.ignite.protocol`."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct

from hub.ignite.protocol import (
    FLAG_ERROR,
    FLAG_TOPOLOGY,
    I32,
    I64,
    OpCode,
    Status,
    decode_handshake,
    encode_handshake,
    encode_request,
)

_PROBE_REQ_ID = 0x5359_4E43
_GET_CACHE_NAMES = encode_request(OpCode.CACHE_GET_NAMES, _PROBE_REQ_ID)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _recv_frame(sock: socket.socket) -> bytes | None:
    head = _recv_exact(sock, 4)
    if head is None:
        return None
    return _recv_exact(sock, I32.unpack(head)[0])


def client_tls() -> ssl.SSLContext:
    """TLS for readiness probes only: no certificate check (the hub's own connections verify)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def handshake(
    host: str,
    port: int,
    timeout: float = 2.0,
    *,
    probe: bool = True,
    tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
    auth_failure_ok: bool = False,
) -> bool:
    """True when ``host:port`` accepts a thin-client 1.7.0 handshake and, with ``probe``,
    answers OP_CACHE_GET_NAMES (1050) without error at an affinity topology version >= 1.

    The client connector listens (and even answers requests, at topology version -1)
    before the node has joined and finished its first exchange; creating a cache in
    that window can crash the node, so a bare handshake does not mean "started".

    ``tls`` wraps the socket (a TLS-only client connector), ``credentials`` (user, password)
    go into the handshake (``authenticationEnabled``). With ``auth_failure_ok`` and no
    ``probe``, a handshake refused for bad credentials (status 2000) also counts: the node
    is up and authenticating."""
    try:
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
            sock = stack.enter_context(tls.wrap_socket(raw)) if tls is not None else raw
            sock.settimeout(timeout)
            sock.sendall(encode_handshake(credentials))
            # Whole frames are read before closing, so the node never logs a connection reset.
            reply = _recv_frame(sock)
            if not reply:
                return False
            answer = decode_handshake(reply)
            if not answer.ok:
                # e.g. "Node in recovery mode." while starting; or bad credentials
                return auth_failure_ok and not probe and answer.status == Status.AUTH_FAILED
            if not probe:
                return True
            sock.sendall(_GET_CACHE_NAMES)
            resp = _recv_frame(sock)
            if resp is None or len(resp) < 10:
                return False
            req_id, flags = struct.unpack_from("<qh", resp)
            if req_id != _PROBE_REQ_ID or flags & FLAG_ERROR or not flags & FLAG_TOPOLOGY:
                return False
            (top_ver,) = I64.unpack_from(resp, 10)
            return bool(top_ver >= 1)
    except (OSError, struct.error):  # ssl.SSLError is an OSError
        return False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a listening socket could bind ``host:port`` now (SO_REUSEADDR like the JVM)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
