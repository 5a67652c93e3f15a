"""The fuzz corpus against a real hub process with Ignite behind it (docs/reliability.md §fuzzing).

Every input of ``tests/fuzz/corpus/frames`` (seeds plus what coverage-guided runs kept) is sent on
a connection of its own, its collection renamed to the one the hub serves: the connection ends in
a documented close code or stays usable (it answers a ``ping``), never in ``internal_error``; a
client connected all along is undisturbed, and its replica still equals Ignite's data afterwards
(valid mutations among the inputs do write: that is not corruption, a replica that differs is).
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.targets import COLL, DOCUMENTED, split_frames
from tests.integration.conftest import HubFactory, ignite_docs, sub, wait_for
from tests.support.wsclient import HubClient

pytestmark = pytest.mark.asyncio(loop_scope="session")

CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "frames"


def answered(c: HubClient) -> bool:
    """The hub answered the closing ``ping`` of an input, or closed the connection."""
    return c.close_code is not None or any(m.get("t") == "pong" and m.get("n") == 424242 for m in c.received)


@pytest.mark.timeout(300)
async def test_fuzz_corpus_against_a_real_hub(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    # as long as the corpus's collection name, so renaming keeps every length prefix true
    coll = "z" + "".join(random.choices(string.ascii_lowercase, k=len(COLL) - 1))
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll}})
    bystander = HubClient(hub.url, "bystander-fuzz")
    clients.append(bystander)
    await bystander.connect()
    await sub(bystander, coll)
    seed = await bystander.mut([bystander.put_op(coll, f"s{i}", {"v": i}) for i in range(5)])
    assert all(r["s"] == "ok" for r in seed)

    outcomes: dict[str, int | str] = {}
    files = sorted(CORPUS.iterdir())
    assert len(files) >= 10
    for f in files:
        data = f.read_bytes().replace(
            bytes([0xA0 | len(COLL)]) + COLL.encode(), bytes([0xA0 | len(coll)]) + coll.encode()
        )
        flags, frames = split_frames(data)
        c = HubClient(hub.url, f"fuzz-{f.name[-8:]}")
        try:
            if flags & 1:
                await c.connect()
            else:
                await c.open()
            for frame in frames:
                if c.close_code is not None:
                    break
                await c.send_raw(frame)
            if c.close_code is None:
                await c.send({"t": "ping", "n": 424242})
                try:
                    await c.wait(lambda c=c: answered(c), 15)
                except TimeoutError:
                    raise AssertionError(f"{f.name}: the hub neither answered nor closed") from None
                if c.close_code is None:
                    outcomes[f.name] = "open"
            if c.close_code is not None:
                outcomes[f.name] = c.close_code
                assert c.close_code in DOCUMENTED, f"{f.name}: closed {c.close_code} {c.close_reason!r}"
        finally:
            await c.close()
    codes = {o for o in outcomes.values()}
    assert "open" in codes and codes - {"open"}, f"the corpus should both pass and fail: {codes}"

    # the bystander: still connected, its writes acknowledged, its replica equal to Ignite's data
    assert bystander.close_code is None
    (mine,) = await bystander.mut([bystander.put_op(coll, "after", {"v": 42})])
    assert mine["s"] == "ok"
    stored = await ignite_docs(aio_client, coll)
    await wait_for(lambda: bystander.docs(coll).keys() == stored.keys(), 30)
    assert set(bystander.docs(coll)) == set(stored)
    assert bystander.docs(coll)["after"] == {"v": 42}


@pytest.mark.timeout(120)
async def test_the_oracle_reads_an_empty_document(
    hubs: HubFactory, clients: list[HubClient], ignite_addresses: Any, aio_client: Any
) -> None:
    """An empty document is a binary object without fields (schema id 0), which pyignite could
    not read (``ignite_docs`` failed on it): the oracle of the fuzz and chaos tests must."""
    coll = "empty_docs"
    hub = await hubs("hub", ignite_addresses, {coll: {"cache": coll}})
    c = HubClient(hub.url, "empty-writer")
    clients.append(c)
    await c.connect()
    assert (await c.put(coll, "full", {"v": 1}))["s"] == "ok"
    assert (await c.put(coll, "empty", {}))["s"] == "ok"
    assert await ignite_docs(aio_client, coll) == {"full": {"v": 1}, "empty": {}}
