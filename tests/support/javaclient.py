"""Java thick client nodes for tests: what only Ignite's Java API does (the data streamer, resetting
lost partitions). ``tests/support/java/*.java`` are compiled once per session against the Ignite
jars; each call starts a client node that joins the cluster, does its job and leaves."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import tempfile
from pathlib import Path

from hub.dev.cluster.cluster import LocalCluster
from hub.dev.cluster.jars import ensure_jars
from hub.dev.cluster.jvm import add_opens, find_java
from tests.support.ports import free_port

_SOURCES = Path(__file__).with_name("java")


@functools.cache
def _classes() -> Path:
    out = Path(tempfile.mkdtemp(prefix="synchub-java-"))
    javac = str(Path(find_java()).with_name("javac"))
    sources = [str(p) for p in sorted(_SOURCES.glob("*.java"))]
    cmd = [javac, "-nowarn", "-d", str(out), "-cp", f"{ensure_jars()}/*", *sources]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return out


def _discovery(cluster: LocalCluster) -> str:
    return ",".join(f"127.0.0.1:{cluster.discovery_port + i}" for i in range(cluster.nodes))


async def _run(main: str, args: list[str], done: str) -> None:
    classes = await asyncio.to_thread(_classes)
    cmd = [
        find_java(),
        "-Xmx256m",
        *add_opens(),
        "-Djava.net.preferIPv4Stack=true",
        "-DIGNITE_QUIET=true",
        "-DIGNITE_UPDATE_NOTIFIER=false",
        "-cp",
        f"{classes}:{ensure_jars()}/*",
        main,
        *args,
    ]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 90)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    if proc.returncode != 0 or done not in text:
        tail = "\n".join(text.splitlines()[-30:])
        raise AssertionError(f"java {main} failed (exit {proc.returncode}):\n{tail}")


async def stream(cluster: LocalCluster, cache: str, prefix: str, count: int, *, overwrite: bool) -> None:
    """Stream ``count`` documents ``{"n": i, "by": "streamer"}`` (keys ``prefix + i``) into ``cache``
    with Ignite's data streamer."""
    args = [_discovery(cluster), cache, prefix, str(count), str(overwrite).lower(), str(free_port())]
    await _run("Streamer", args, f"streamed {count}")


async def reset_lost_partitions(cluster: LocalCluster, caches: list[str]) -> None:
    """What an operator does after losing partitions: make them usable again (empty)."""
    await _run("ResetLost", [_discovery(cluster), str(free_port()), *caches], "reset")
