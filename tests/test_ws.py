"""The /sync endpoint end to end (real uvicorn on a free port, MemoryStore)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub import codec
from hub.config import Config, HubSettings
from hub.core.conflict import Policy
from hub.core.types import CollectionSpec
from hub.server.subscription import Subscription
from hub.store.memory import MemoryStore
from tests.support.server import Running, running_hub
from tests.support.wsclient import HubClient

MAX_FRAME = 64 * 1024


def make_config(**hub: Any) -> Config:
    settings: dict[str, Any] = {"dev_auth": True, "ping_ms": 2000, "max_frame": MAX_FRAME, "max_batch": 50}
    settings.update(hub)
    return Config(
        hub=HubSettings(**settings),
        collections=(
            CollectionSpec("todos"),
            CollectionSpec("stale", policy=Policy.REJECT_IF_STALE),
            CollectionSpec("metrics", writable=False),
        ),
    )


@dataclass
class Hub:
    run: Running
    store: MemoryStore

    @property
    def url(self) -> str:
        return self.run.url

    @contextlib.asynccontextmanager
    async def client(self, **kwargs: Any) -> AsyncIterator[HubClient]:
        c = HubClient(self.url, **{k: v for k, v in kwargs.items() if k in ("client_id", "token")})
        try:
            await c.connect(**{k: v for k, v in kwargs.items() if k not in ("client_id", "token")})
            yield c
        finally:
            await c.close()


@contextlib.asynccontextmanager
async def hub_running(**hub: Any) -> AsyncIterator[Hub]:
    store = MemoryStore()
    async with running_hub(make_config(**hub), store) as run:
        yield Hub(run, store)


@pytest.fixture
async def hub() -> AsyncIterator[Hub]:
    async with hub_running() as h:
        yield h


async def raw_client(h: Hub, hello: bool = True) -> HubClient:
    c = HubClient(h.url)
    if hello:
        await c.connect()
    else:
        await c.open()
    return c


# --------------------------------------------------------------------------- session & errors


async def test_hello_welcome_and_ping(hub: Hub) -> None:
    async with hub.client() as c:
        assert c.welcome is not None
        assert c.welcome["v"] == 1 and c.welcome["max_frame"] == MAX_FRAME and c.welcome["max_batch"] == 50
        await c.send({"t": "ping", "n": 7})
        await c.wait(lambda: any(m["t"] == "pong" and m["n"] == 7 for m in c.received))


async def test_welcome_carries_the_authenticated_subject(hub: Hub) -> None:
    """The client checks it against the user its local data belongs to (docs/client.md)."""
    async with hub.client(token="alice") as a, hub.client(token="bob") as b:
        assert a.welcome is not None and a.welcome["user"] == "alice"
        assert b.welcome is not None and b.welcome["user"] == "bob"


async def test_version_negotiation_picks_highest_common(hub: Hub) -> None:
    async with hub.client(versions=[3, 1, 2]) as c:
        assert c.welcome is not None and c.welcome["v"] == 1


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([{"t": "hello", "v": [2, 3], "client": "x", "token": "t"}], 4002),
        ([{"t": "sub", "id": 1, "coll": "todos", "cursor": None}], 4003),
        ([{"t": "hello", "v": [1], "client": "x", "token": "t"}] * 2, 4003),
        ([{"t": "hello", "v": [1], "client": "x", "token": "t"}, {"t": "nope"}], 4004),
        (
            [{"t": "hello", "v": [1], "client": "x", "token": "t"}, {"t": "sub", "id": "1", "coll": "todos"}],
            4001,
        ),
        ([{"t": "hello", "v": "1", "client": "x", "token": "t"}], 4001),
        ([{"t": "hello", "v": [1], "client": "", "token": "t"}], 4001),
        ([{"t": "hello", "v": [1], "client": "x", "token": "t"}, {"t": "mut", "batch": []}], 4001),
        ([{"v": [1]}], 4004),
    ],
)
async def test_protocol_errors_close_with_code(hub: Hub, frames: list[dict[str, Any]], code: int) -> None:
    c = await raw_client(hub, hello=False)
    for f in frames:
        with contextlib.suppress(Exception):
            await c.send(f)
    assert await c.wait_closed() == code
    await c.close()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xc1garbage", 4000),
        (codec.encode({"t": "hello", "v": [1], "client": "x"})[:-3], 4000),  # truncated
        (b"\x93\x01\x02\x03", 4000),  # not a map
        (b"\x91" * 1000 + b"\xc0", 4000),  # 1000-deep nesting
        (b"\xdf\x80\x00\x00\x00", 4000),  # map header claiming 2^31 entries
        (b"\xdb\xff\xff\xff\xff" + b"x" * 10, 4000),  # str header claiming 2^32 bytes
        (b"\x81\xa1t\xc7\x01\x05x", 4000),  # unknown extension type
        ("text frame", 4000),
        (b"\x80" + b"\x00" * MAX_FRAME, 4009),
    ],
)
async def test_bad_frames(hub: Hub, data: bytes | str, code: int) -> None:
    c = await raw_client(hub, hello=False)
    started = time.monotonic()
    await c.send_raw(data)
    assert await c.wait_closed() == code
    assert time.monotonic() - started < 2
    await c.close()


async def test_token_required_without_dev_auth() -> None:
    async with hub_running(dev_auth=False, tokens=("secret",)) as h:
        for token in (None, "wrong"):
            c = HubClient(h.url, token=token)
            await c.open()
            await c.send({"t": "hello", "v": [1], "client": "x", "token": token})
            assert await c.wait_closed() == 4010
            await c.close()
        async with h.client(token="secret") as ok:
            assert ok.welcome is not None


async def test_origin_allowlist() -> None:
    import websockets

    async with hub_running(dev_auth=False, tokens=("t",), origins=("https://app.example.com",)) as h:
        for origin, allowed in (("https://evil.example.com", False), ("https://app.example.com", True)):
            ws = await websockets.connect(h.url, origin=origin, compression=None)  # type: ignore[arg-type]
            if allowed:
                await ws.send(codec.encode({"t": "hello", "v": [1], "client": "x", "token": "t"}))
                assert codec.decode(await ws.recv())["t"] == "welcome"
                await ws.close()
            else:
                with pytest.raises(websockets.ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.rcvd is not None and info.value.rcvd.code == 4030


async def test_hub_pings_and_closes_silent_clients() -> None:
    async with hub_running(ping_ms=200) as h:
        async with h.client() as c:  # answers pings: stays open
            await c.wait(lambda: sum(m["t"] == "ping" for m in c.received) >= 3)  # > 2 x ping_ms
            assert c.close_code is None
        c = HubClient(h.url)
        await c.open()
        await c.send({"t": "hello", "v": [1], "client": "silent", "token": "t"})
        c.pause()  # stops answering pings
        await asyncio.sleep(1.0)
        c.resume()
        assert await c.wait_closed(3) == 4508
        await c.close()


async def test_a_hello_whose_authentication_outlasts_the_hello_timeout_is_welcomed() -> None:
    """The client said hello in time; the authenticator (0.8 s) is slower than ``hello_timeout_ms``.
    That wait is the hub's: no 4003 (final for the client), the connection is welcomed."""
    auth = {"mode": "hook", "hook": "tests.support.hooks:slow_identity", "timeout_s": 5}
    store = MemoryStore()
    config = dataclasses.replace(make_config(hello_timeout_ms=300), auth=auth)
    async with running_hub(config, store) as run:
        c = HubClient(run.url, token="carol")
        welcome = await c.connect()
        assert welcome["t"] == "welcome" and c.close_code is None
        await c.close()


async def test_a_connection_without_hello_is_closed_after_the_hello_timeout() -> None:
    """The ticker (a timer, hub/server/driver.py) closes a connection that never says hello."""
    async with hub_running(hello_timeout_ms=400) as h:
        c = await raw_client(h, hello=False)
        started = time.monotonic()
        assert await c.wait_closed(5) == 4003
        assert time.monotonic() - started >= 0.3 and c.close_reason == "no hello"
        await c.close()


async def test_a_client_ahead_of_a_slow_store_is_not_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the hub holds back reading a client whose batches wait for the store (backpressure),
    the client's pongs go unread: that is not silence (4508), found by the connection soak."""
    async with hub_running(ping_ms=200) as h:
        real_apply = h.store.apply

        async def slow_apply(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0.6)  # longer than 2 x ping_ms
            return await real_apply(*args, **kwargs)

        monkeypatch.setattr(h.store, "apply", slow_apply)
        async with h.client() as c:
            for i in range(8):  # 4 queue up; the reader then waits 0.6 s per batch for the others
                await c.send({"t": "mut", "batch": [c.put_op("todos", f"s{i}", {"x": i})]})
            await c.wait(
                lambda: sum(m["t"] == "ack" for m in c.received) == 8 or c.close_code is not None, 10
            )
            await c.barrier()  # a close (4508) waits for the batches in flight: ask once more
            assert c.close_code is None
            assert all(m["results"][0]["s"] == "ok" for m in c.received if m["t"] == "ack")


async def test_syncs_read_the_store_a_bounded_number_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost feed resyncs every subscriber at once: their store reads queue for a few hub-wide
    slots instead of racing (thousands timed out together and closed with 4503 in the soak)."""
    import hub.server.hub as hub_module

    monkeypatch.setattr(hub_module, "SYNC_READ_SLOTS", 2)
    async with hub_running() as h:
        running, most = 0, 0
        real_changes = h.store.changes

        async def slow_changes(*args: Any, **kwargs: Any) -> Any:
            nonlocal running, most
            running += 1
            most = max(most, running)
            try:
                await asyncio.sleep(0.05)
                return await real_changes(*args, **kwargs)
            finally:
                running -= 1

        async with h.client() as w:  # 8 versions: 8 catch-ups from 8 cursors read 8 different pages
            vers = [(await w.put("todos", f"d{i}", {"n": i}))["ver"] for i in range(8)]
            epoch = (await w.sub("todos"))["cursor"][0]
        monkeypatch.setattr(h.store, "changes", slow_changes)
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(h.client()) for _ in range(8)]
            await asyncio.gather(*(c.sub("todos", [epoch, v]) for c, v in zip(clients, vers, strict=True)))
            assert all(c.close_code is None for c in clients)
        assert most == 2


async def test_a_connection_storm_shares_the_first_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients subscribing at once (a hub restart) read the same first page: the reads that wait
    for a slot together are one store call (hub/server/syncreads.py), and every client gets it."""
    import hub.server.hub as hub_module

    monkeypatch.setattr(hub_module, "SYNC_READ_SLOTS", 1)
    async with hub_running() as h:
        async with h.client() as w:
            for i in range(5):
                await w.put("todos", f"d{i}", {"n": i})
        calls = 0
        real_changes = h.store.changes

        async def slow_changes(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return await real_changes(*args, **kwargs)

        monkeypatch.setattr(h.store, "changes", slow_changes)
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(h.client()) for _ in range(8)]
            await asyncio.gather(*(c.sub("todos") for c in clients))
            assert all(len(c.docs("todos")) == 5 for c in clients)
        assert calls < len(clients), calls


async def test_health_and_ready(hub: Hub) -> None:
    async with httpx.AsyncClient(base_url=hub.run.http) as http:
        assert (await http.get("/healthz")).text == "ok"
        assert (await http.get("/readyz")).status_code == 200
        hub.store.available = False
        assert (await http.get("/readyz")).status_code == 503
        hub.store.available = True
        assert (await http.get("/")).status_code == 200


async def test_malformed_frame_does_not_disturb_others(hub: Hub) -> None:
    async with hub.client() as good, hub.client() as writer:
        await good.sub("todos")
        bad = await raw_client(hub)
        await bad.send({"t": "mut", "batch": [{"seq": "x", "coll": "todos"}]})
        assert await bad.wait_closed() == 4001
        await bad.close()
        bad = await raw_client(hub)
        await bad.send_raw(b"\x81\xa1t\xa3mut\xa5batch\x91\x87")  # truncated mutation
        assert await bad.wait_closed() == 4000
        await bad.close()
        r = await writer.put("todos", "a", {"title": "still fine"})
        assert r["s"] == "ok"
        await good.wait(lambda: good.docs("todos").get("a") == {"title": "still fine"})
        assert set(hub.store.get("todos", i) is not None for i in ["a"]) == {True}
        assert await hub.store.count("todos") == 1


# --------------------------------------------------------------------------- mutations


async def test_unknown_and_readonly_collections(hub: Hub) -> None:
    async with hub.client() as c:
        res = await c.mut([c.put_op("nope", "a", {"x": 1}), c.put_op("metrics", "cpu", {"v": 1})])
        assert [(r["s"], r["code"]) for r in res] == [("error", 4404), ("error", 4403)]
        assert await hub.store.count("metrics") == 0
        assert hub.store.apply_calls == 0
        await c.send({"t": "sub", "id": 99, "coll": "nope", "cursor": None})
        await c.wait(lambda: bool(c.errors))
        assert c.errors[0]["code"] == 4404 and c.errors[0]["ref"] == 99


async def test_invalid_mutation_gets_error_result_rest_applied(hub: Hub) -> None:
    async with hub.client() as c:
        good = c.put_op("todos", "a", {"x": 1})
        bad = c.put_op("todos", "b", {"id": "other"})
        res = await c.mut([good, bad])
        assert res[0]["s"] == "ok" and res[1]["s"] == "error" and res[1]["code"] == 4001
        assert hub.store.get("todos", "b") is None


async def test_exactly_once_replay(hub: Hub) -> None:
    async with hub.client(client_id="replayer") as c:
        batch = [c.put_op("todos", "a", {"n": 1}), c.put_op("todos", "b", {"n": 2}), c.del_op("todos", "a")]
        first = await c.mut(batch)
        assert [r["s"] for r in first] == ["ok", "ok", "ok"]
    before = {i: hub.store.get("todos", i) for i in ("a", "b")}
    calls = hub.store.apply_calls
    async with hub.client(client_id="replayer") as again:
        await again.sub("todos")
        replay = await again.mut(batch)
        await asyncio.sleep(0.1)
        assert not [m for m in again.received if m["t"] == "chg"]  # nothing new was committed
    assert hub.store.apply_calls == calls + 1
    assert all(r.get("dup") is True for r in replay)
    # "b" and the delete still describe the current document: the original outcome comes back.
    assert (replay[1]["s"], replay[1]["ver"]) == ("ok", first[1]["ver"])
    assert (replay[2]["s"], replay[2]["ver"]) == ("ok", first[2]["ver"])
    # "a" changed after its put: the original outcome, or (core/mutation.py's choice) the current state.
    assert (replay[0]["s"], replay[0]["ver"]) in {("ok", first[0]["ver"]), ("dup", first[2]["ver"])}
    assert {i: hub.store.get("todos", i) for i in ("a", "b")} == before
    assert await hub.store.count("todos") == 1


async def test_reject_if_stale(hub: Hub) -> None:
    async with hub.client() as c:
        r1 = (await c.mut([c.put_op("stale", "a", {"n": 1}, base=0)]))[0]
        assert r1["s"] == "ok"
        r2 = (await c.mut([c.put_op("stale", "a", {"n": 2}, base=0)]))[0]
        assert r2["s"] == "rejected" and r2["doc"] == {"n": 1} and r2["ver"] == r1["ver"]


async def test_store_unavailable_closes_4503(hub: Hub) -> None:
    async with hub.client() as c:
        hub.store.available = False
        await c.send({"t": "mut", "batch": [c.put_op("todos", "a", {"x": 1})]})
        assert await c.wait_closed() == 4503
    hub.store.available = True
    assert hub.store.get("todos", "a") is None


async def test_store_unavailable_with_pipelined_batches_releases_the_connection(hub: Hub) -> None:
    """The mutation worker stops on 4503; a reader blocked on the full batch queue must not hang."""
    from hub.core.errors import StoreUnavailable

    async def failing_apply(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.3)  # the reader queues the next batches meanwhile
        raise StoreUnavailable("down")

    async with hub.client() as c:
        hub.store.apply = failing_apply  # type: ignore[method-assign]
        for i in range(12):
            await c.send({"t": "mut", "batch": [c.put_op("todos", f"p{i}", {"x": i})]})
        assert await c.wait_closed() == 4503
    running = _hub_of(hub)
    deadline = time.monotonic() + 5
    while running.connections and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not running.connections


# --------------------------------------------------------------------------- sync & convergence


async def test_two_clients_converge_late_joiner_and_catchup(hub: Hub) -> None:
    async with hub.client() as a, hub.client() as b:
        await a.sub("todos")
        await b.sub("todos")
        for i in range(20):
            writer = a if i % 2 else b
            await writer.put("todos", f"d{i % 7}", {"n": i, "by": writer.client_id})
            if i % 5 == 4:
                await (b if i % 2 else a).delete("todos", f"d{(i + 3) % 7}")
        expected = {
            k: dict(v.doc) for k in [f"d{i}" for i in range(7)] if (v := hub.store.get("todos", k)) and v.doc
        }
        await a.wait(lambda: a.docs("todos") == expected)
        await b.wait(lambda: b.docs("todos") == expected)
        cursor = a.cursors["todos"]
        await a.close()
        # while a is away: more writes and deletes
        await b.put("todos", "new", {"n": 100})
        await b.delete("todos", "d1")
        async with hub.client() as late:
            synced = await late.sub("todos")
            assert synced["mode"] == "snapshot" and synced["reset"] is True
            expected = hub.store.live_docs("todos")
            assert late.docs("todos") == expected
        back = HubClient(hub.url, client_id=a.client_id)
        await back.connect()
        back.models["todos"] = {k: v for k, v in a.models["todos"].items()}
        synced = await back.sub("todos", cursor)
        assert synced["mode"] == "catchup" and synced["reset"] is False
        pages = [m for m in back.received if m["t"] == "page"]
        sent_ids = {ch[0] for p in pages for ch in p["changes"]}
        assert {"new", "d1"} <= sent_ids
        assert any(ch[0] == "d1" and ch[2] is None for p in pages for ch in p["changes"])
        assert back.docs("todos") == expected
        await back.close()


async def test_catchup_sends_only_changes_after_cursor_overlap() -> None:
    async with hub_running(catchup_overlap_ms=0) as h:
        async with h.client() as a:
            await a.sub("todos")
            for i in range(30):
                await a.put("todos", f"d{i}", {"i": i})
            await a.wait(lambda: len(a.docs("todos")) == 30)
            # the cursor moves once the feed has settled past the writes (hub/server/feed.py)
            top = max(a.versions("todos").values())
            await a.wait(lambda: a.cursors["todos"][1] >= top)
            cursor = a.cursors["todos"]
            await a.put("todos", "late", {"i": -1})
            await a.delete("todos", "d3")
        async with h.client() as b:
            synced = await b.sub("todos", cursor)
            changes = [ch for m in b.received if m["t"] == "page" for ch in m["changes"]]
            assert sorted(ch[0] for ch in changes) == ["d3", "late"]
            # never below where it started; never above what is settled (it may lag the changes)
            assert synced["cursor"][1] >= cursor[1]


async def test_epoch_mismatch_resyncs(hub: Hub) -> None:
    hub.store.external_write("todos", "x", {"v": 1})
    async with hub.client() as c:
        synced = await c.sub("todos", ["some-other-epoch", 12345])
        assert c.resyncs and c.resyncs[0]["reason"] == "epoch" and c.resyncs[0]["mode"] == "snapshot"
        assert synced["reset"] is True and c.docs("todos") == {"x": {"v": 1}}


async def test_retention_floor_resyncs(hub: Hub) -> None:
    async with hub.client() as c:
        await c.sub("todos")
        await c.put("todos", "a", {"v": 1})
        await c.wait(lambda: "a" in c.docs("todos"))
        cursor = c.cursors["todos"]
    hub.store.external_write("todos", "b", {"v": 1})
    hub.store.external_write("todos", "b", None)
    hub.store.purge_tombstones("todos")
    async with hub.client() as c2:
        await c2.sub("todos", cursor)
        assert c2.resyncs[0]["reason"] == "retention"


async def test_external_writes_reach_subscribers(hub: Hub) -> None:
    async with hub.client() as c:
        await c.sub("metrics")
        hub.store.external_write("metrics", "cpu", {"v": 0.5})
        await c.wait(lambda: c.docs("metrics") == {"cpu": {"v": 0.5}})


# --------------------------------------------------------------------------- live fan-out


async def test_one_encode_per_feed_batch_same_bytes_to_all(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    async with hub.client() as a, hub.client() as b, hub.client() as w:
        await a.sub("todos")
        await b.sub("todos")
        encoded: list[bytes] = []
        real_encode = codec.encode

        def spy(obj: Any) -> bytes:
            out = real_encode(obj)
            if obj.get("t") == "chg":
                encoded.append(out)
            return out

        pushed: list[int] = []
        real_on_frame = Subscription.on_frame

        def on_frame_spy(self: Subscription, frame: bytes, *args: Any) -> bool:
            pushed.append(id(frame))
            return real_on_frame(self, frame, *args)

        monkeypatch.setattr(codec, "encode", spy)
        monkeypatch.setattr(Subscription, "on_frame", on_frame_spy)
        # several changes already queued when the feed wakes up share one frame
        for i in range(10):
            hub.store.external_write("todos", f"x{i}", {"i": i})
        await a.wait(lambda: len(a.docs("todos")) == 10)
        await b.wait(lambda: len(b.docs("todos")) == 10)
        assert len(encoded) == 1
        assert len(pushed) == 2 and pushed[0] == pushed[1]
        chg_a = [r for r in a.raw if codec.decode(r)["t"] == "chg"]
        chg_b = [r for r in b.raw if codec.decode(r)["t"] == "chg"]
        assert chg_a == chg_b == [encoded[0]]
        await w.put("todos", "y", {"n": 1})
        await a.wait(lambda: "y" in a.docs("todos"))
        assert len(encoded) == 2


async def test_slow_consumer_resyncs_and_converges() -> None:
    # ping_ms: the paused client answers no ping; on a busy machine the writes below outlast the
    # default idle timeout, which would end the test with 4508 instead of the "slow" resync.
    async with hub_running(queue_bytes=256 * 1024, ping_ms=120_000) as h:
        async with h.client() as fast, h.client(small_rcvbuf=True) as slow:
            await fast.sub("todos")
            await slow.sub("todos")
            slow.pause()
            payload = "x" * 1000
            n = 8000
            for i in range(n):
                h.store.external_write("todos", f"d{i % 500}", {"i": i, "pad": payload})
                if i % 10 == 0:
                    await asyncio.sleep(0.001)
            await fast.wait(lambda: fast.docs("todos").get("d499", {}).get("i") == n - 1, timeout=20)
            assert not fast.resyncs
            slow.resume()
            expected = h.store.live_docs("todos")
            await slow.wait(lambda: slow.docs("todos") == expected, timeout=20)
            assert any(r["reason"] == "slow" for r in slow.resyncs)
            assert all(r["mode"] == "catchup" for r in slow.resyncs if r["reason"] == "slow")


async def test_outqueue_stays_bounded_under_a_stalled_reader() -> None:
    async with hub_running(queue_bytes=16 * 1024) as h:
        async with h.client(small_rcvbuf=True) as slow:
            await slow.sub("todos")
            slow.pause()
            for i in range(1000):
                h.store.external_write("todos", f"d{i}", {"pad": "y" * 1000})
                if i % 50 == 0:
                    await asyncio.sleep(0)
            await asyncio.sleep(0.2)
            conns = list(_hub_of(h).connections)
            assert conns and all(c.queue.size <= 2 * 16 * 1024 for c in conns)
            slow.resume()


def _hub_of(h: Hub) -> Any:
    app = h.run.server.config.loaded_app
    while not hasattr(app, "state"):
        app = app.app
    return app.state.hub


async def test_feed_lost_resyncs_subscribers(hub: Hub) -> None:
    async with hub.client() as a, hub.client() as w:
        await a.sub("todos")
        await w.put("todos", "before", {"v": 1})
        await a.wait(lambda: "before" in a.docs("todos"))
        hub.store.drop_feed("todos")
        hub.store.external_write("todos", "during", {"v": 2})  # nobody hears this one live
        await a.wait(lambda: any(r["reason"] == "cq_lost" for r in a.resyncs))
        # a catch-up from the last cursor written, not a snapshot of everything
        assert a.resyncs[-1]["mode"] == "catchup"
        await a.wait(lambda: a.docs("todos") == {"before": {"v": 1}, "during": {"v": 2}})
        await w.put("todos", "after", {"v": 3})
        await a.wait(lambda: "after" in a.docs("todos"))
        assert hub.store.feed_count("todos") == 1


async def test_resub_restarts_and_unsub_stops(hub: Hub) -> None:
    async with hub.client() as a:
        await a.sub("todos")
        hub.store.external_write("todos", "a", {"v": 1})
        await a.wait(lambda: "a" in a.docs("todos"))
        again = await a.sub("todos", a.cursors["todos"])
        assert again["mode"] == "catchup"
        await a.send({"t": "unsub", "coll": "todos"})
        await a.barrier()  # the hub has processed the unsub
        n = len(a.received)
        hub.store.external_write("todos", "b", {"v": 1})
        await asyncio.sleep(0.2)
        assert not [m for m in a.received[n:] if m["t"] == "chg"]
