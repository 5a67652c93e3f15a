"""Is an Ignite node ready? A thin-client handshake (and a request) over a plain socket.

Used by the store before it creates caches (creating one on a node that is still starting can crash
that node: see :func:`handshake`) and by the dev tooling's local nodes. Frames come from
:mod:`hub.ignite.protocol`."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import ssl
import struct
import time
from collections.abc import Sequence

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
    state, status = _probe(host, port, timeout, probe=probe, tls=tls, credentials=credentials)
    if status == Status.AUTH_FAILED:
        return auth_failure_ok and not probe
    return state is NodeState.STARTED


class NodeState(enum.Enum):
    DOWN = "down"  # nothing accepts TCP connections there
    STARTING = "starting"  # the client connector answers, the node has not finished starting
    STARTED = "started"


def node_state(
    host: str,
    port: int,
    timeout: float = 2.0,
    *,
    tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
) -> NodeState:
    """Where ``host:port`` is in its start-up (blocking; run it in a thread from async code).

    A handshake refused for bad credentials counts as started: the node is up and authenticating,
    and the client's own connection reports the credentials."""
    state, status = _probe(host, port, timeout, probe=True, tls=tls, credentials=credentials)
    return NodeState.STARTED if status == Status.AUTH_FAILED else state


def _probe(
    host: str,
    port: int,
    timeout: float,
    *,
    probe: bool,
    tls: ssl.SSLContext | None,
    credentials: tuple[str, str] | None,
) -> tuple[NodeState, int | None]:
    """One connection: the node's state, and the status of a refused handshake (else None)."""
    try:
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
            try:
                sock = stack.enter_context(tls.wrap_socket(raw)) if tls is not None else raw
                sock.settimeout(timeout)
                sock.sendall(encode_handshake(credentials))
                # Whole frames are read before closing, so the node never logs a connection reset.
                reply = _recv_frame(sock)
                if not reply:
                    return NodeState.STARTING, None
                answer = decode_handshake(reply)
                if not answer.ok:  # e.g. "Node in recovery mode." while starting; or bad credentials
                    return NodeState.STARTING, answer.status
                if not probe:
                    return NodeState.STARTED, None
                sock.sendall(_GET_CACHE_NAMES)
                resp = _recv_frame(sock)
                if resp is None or len(resp) < 10:
                    return NodeState.STARTING, None
                req_id, flags = struct.unpack_from("<qh", resp)
                if req_id != _PROBE_REQ_ID or flags & FLAG_ERROR or not flags & FLAG_TOPOLOGY:
                    return NodeState.STARTING, None
                (top_ver,) = I64.unpack_from(resp, 10)
                return (NodeState.STARTED if top_ver >= 1 else NodeState.STARTING), None
            except (OSError, struct.error):  # ssl.SSLError is an OSError
                return NodeState.STARTING, None
    except OSError:
        return NodeState.DOWN, None


async def wait_started(
    addresses: Sequence[tuple[str, int]],
    timeout: float,
    *,
    tls: ssl.SSLContext | None = None,
    credentials: tuple[str, str] | None = None,
) -> list[tuple[str, int]]:
    """Wait until no node of ``addresses`` is in its start-up window; return those still starting.

    Nodes that are down are not waited for (pyignite does not use them); the caller decides what a
    node still starting after ``timeout`` seconds means. Probes come 0.2 s apart at first, then
    further apart (up to 1 s): a node recovering its WAL holds each probe's session for seconds."""
    deadline = time.monotonic() + timeout
    pending = list(addresses)
    pause = 0.2
    while True:
        states = [
            await asyncio.to_thread(node_state, h, p, min(2.0, timeout), tls=tls, credentials=credentials)
            for h, p in pending
        ]
        pending = [a for a, st in zip(pending, states, strict=True) if st is NodeState.STARTING]
        if not pending or time.monotonic() >= deadline:
            return pending
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 1.0)


class StartupGate:
    """:func:`wait_started` shared by every caller of a process: one probe per node at a time.

    A hub reopening its collections after a cluster restart asks from every feed at once; each
    asking for itself multiplied the probes: 1,250 in 30 s from two idle hubs of two workers and four
    collections, against 200 with the gate. A node recovering its WAL holds each probe's session (a
    direct buffer of about 2 MiB) for up to 10 s (the store's breaker.py tells the rest)."""

    def __init__(
        self,
        addresses: Sequence[tuple[str, int]],
        timeout: float,
        *,
        tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.addresses = list(addresses)
        self.timeout = timeout
        self.tls = tls
        self.credentials = credentials
        self._task: asyncio.Task[list[tuple[str, int]]] | None = None

    async def wait(self) -> list[tuple[str, int]]:
        """The nodes still starting, from the wait under way or a new one."""
        task = self._task
        if task is None or task.done():
            wait = wait_started(self.addresses, self.timeout, tls=self.tls, credentials=self.credentials)
            task = self._task = asyncio.create_task(wait, name="ignite-startup-gate")
        # one caller cancelled (its deadline) must not cancel the wait of the others
        return await asyncio.shield(task)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a listening socket could bind ``host:port`` now (SO_REUSEADDR like the JVM)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
