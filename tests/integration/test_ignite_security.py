"""The hub's ``[ignite]`` security options against real Ignite nodes.

* an ``authenticationEnabled`` node (native persistence, user created by LocalCluster): two hub
  processes with ``username``/``password`` serve, a write through one hub lands in Ignite and
  reaches a client of the other hub through that hub's continuous query (its dedicated CQ
  connection authenticates too); a wrong password makes ``synchub serve`` exit 3 with an
  "authentication failed" message before serving;
* a TLS-only client connector (throwaway CA from :func:`hub.dev.pki.make_pki`): the same end to
  end with ``use_ssl`` + ``ssl_ca_certfile``; without TLS, or trusting another CA, ``serve`` exits 3
  with a TLS message.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pyignite import AioClient

from hub.dev.cluster import LocalCluster
from hub.dev.pki import Pki, make_pki
from tests.conftest import REPO_ROOT, reserve_port_block, save_logs
from tests.integration.conftest import HubFactory, fresh, ignite_docs, sub
from tests.support.hubproc import render_toml
from tests.support.wsclient import HubClient

# the first test of a module also pays for its cluster (persistent, activated, a user created):
# over 60 s on a loaded 2-core box (a fresh-clone run, 2026-12-01)
pytestmark = pytest.mark.timeout(240)
async_test = pytest.mark.asyncio(loop_scope="session")

USER, PASSWORD = "synchub_app", "s3cret-Pw"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _cluster(tmp: Path, label: str, **security: Any) -> Iterator[LocalCluster]:
    block = reserve_port_block(1)
    cluster = block.cluster(tmp, name=f"test-{label}", heap_mb=512, region_max_mb=512, **security)
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            cluster.stop()
        finally:
            save_logs(cluster, label)
            block.release()


@pytest.fixture(scope="module")
def auth_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    yield from _cluster(tmp_path_factory.mktemp("ignite-auth"), "sec-auth", authentication=(USER, PASSWORD))


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[LocalCluster]:
    yield from _cluster(tmp_path_factory.mktemp("ignite-tls"), "sec-tls", ssl=pki.server)


def _serve(
    tmp_path: Path, addresses: list[tuple[str, int]], ignite: Mapping[str, Any]
) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / f"hub-{fresh('bad')}.toml"
    cfg.write_text(render_toml(addresses, {}, {"port": 1}, {"connect_timeout_ms": 5000, **ignite}))
    return subprocess.run(
        [sys.executable, "-m", "hub", "serve", "--config", str(cfg)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=45,
    )


async def _end_to_end(
    hubs: HubFactory,
    clients: list[HubClient],
    addresses: list[tuple[str, int]],
    ignite: Mapping[str, Any],
    direct: Mapping[str, Any],
) -> None:
    """Two hubs on one node: c1 writes on hub a, c2 on hub b sees it live (hub b's CQ), Ignite has it."""
    coll = fresh("sec")
    colls = {coll: {"cache": coll}}
    a, b = await asyncio.gather(
        hubs("a", addresses, colls, ignite=ignite), hubs("b", addresses, colls, ignite=ignite)
    )
    c1, c2 = HubClient(a.url, fresh("c1")), HubClient(b.url, fresh("c2"))
    clients.extend([c1, c2])
    for c in (c1, c2):
        await c.connect()
        await sub(c, coll)
    assert (await c1.put(coll, "d1", {"v": 1}))["s"] == "ok"
    await c2.wait(lambda: c2.docs(coll).get("d1", {}).get("v") == 1, 20)
    assert (await c2.put(coll, "d2", {"v": 2}))["s"] == "ok"
    await c1.wait(lambda: c1.docs(coll).get("d2", {}).get("v") == 2, 20)

    aio = AioClient(**direct)
    await aio.connect(addresses)
    try:
        assert await ignite_docs(aio, coll) == {"d1": {"v": 1}, "d2": {"v": 2}}
    finally:
        await aio.close()


# --------------------------------------------------------------------------- authentication


@async_test
async def test_hub_with_ignite_authentication(
    auth_cluster: LocalCluster, hubs: HubFactory, clients: list[HubClient]
) -> None:
    creds = {"username": USER, "password": PASSWORD}
    await _end_to_end(hubs, clients, list(auth_cluster.addresses), creds, creds)


def test_wrong_password_is_refused_before_serving(auth_cluster: LocalCluster, tmp_path: Path) -> None:
    done = _serve(tmp_path, list(auth_cluster.addresses), {"username": USER, "password": "wrong"})
    assert done.returncode == 3, done.stderr
    assert "authentication failed" in done.stderr
    assert "cannot reach" not in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout


def test_missing_credentials_are_refused_before_serving(auth_cluster: LocalCluster, tmp_path: Path) -> None:
    done = _serve(tmp_path, list(auth_cluster.addresses), {})
    assert done.returncode == 3, done.stderr
    assert "authentication failed" in done.stderr


# --------------------------------------------------------------------------- TLS


@async_test
async def test_hub_with_ignite_tls(
    tls_cluster: LocalCluster, pki: Pki, hubs: HubFactory, clients: list[HubClient]
) -> None:
    tls = {"use_ssl": True, "ssl_ca_certfile": str(pki.ca_cert)}
    direct = {**tls, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    await _end_to_end(hubs, clients, list(tls_cluster.addresses), tls, direct)


def test_plain_connection_to_tls_node_is_refused(tls_cluster: LocalCluster, tmp_path: Path) -> None:
    done = _serve(tmp_path, list(tls_cluster.addresses), {})
    assert done.returncode == 3, done.stderr
    assert "requires TLS" in done.stderr and "use_ssl = true" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout


def test_untrusted_node_certificate_is_refused(
    tls_cluster: LocalCluster, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = make_pki(tmp_path_factory.mktemp("other-ca"), ca_name="some other CA")
    done = _serve(
        tmp_path, list(tls_cluster.addresses), {"use_ssl": True, "ssl_ca_certfile": str(other.ca_cert)}
    )
    assert done.returncode == 3, done.stderr
    assert "certificate is not trusted" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout
