"""Run Ignite's data streamer against a test cluster: a Java thick client node
(``tests/support/java/Streamer.java``, compiled once per session against the Ignite jars) that
streams documents ``{"n": i, "by": "streamer"}`` under keys ``prefix + i``."""

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

_SOURCE = Path(__file__).with_name("java") / "Streamer.java"


@functools.cache
def _classes() -> Path:
    out = Path(tempfile.mkdtemp(prefix="synchub-streamer-"))
    javac = str(Path(find_java()).with_name("javac"))
    subprocess.run(
        [javac, "-nowarn", "-d", str(out), "-cp", f"{ensure_jars()}/*", str(_SOURCE)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


async def stream(cluster: LocalCluster, cache: str, prefix: str, count: int, *, overwrite: bool) -> None:
    """Stream ``count`` documents into ``cache`` from a client node that joins ``cluster``, then leaves."""
    classes = await asyncio.to_thread(_classes)
    discovery = ",".join(f"127.0.0.1:{cluster.discovery_port + i}" for i in range(cluster.nodes))
    cmd = [
        find_java(),
        "-Xmx256m",
        *add_opens(),
        "-Djava.net.preferIPv4Stack=true",
        "-DIGNITE_QUIET=true",
        "-DIGNITE_UPDATE_NOTIFIER=false",
        "-cp",
        f"{classes}:{ensure_jars()}/*",
        "Streamer",
        discovery,
        cache,
        prefix,
        str(count),
        str(overwrite).lower(),
        str(free_port()),
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
    if proc.returncode != 0 or f"streamed {count}" not in out.decode(errors="replace"):
        tail = "\n".join(out.decode(errors="replace").splitlines()[-30:])
        raise AssertionError(f"the data streamer failed (exit {proc.returncode}):\n{tail}")
