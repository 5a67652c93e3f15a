"""The Ignite jars: fetched once from Maven Central (``mvn dependency:copy-dependencies`` on the packaged
``pom.xml``) into ``~/.cache/synchub/ignite-<version>/libs``.

Command line: ``python -m hub.dev.cluster fetch`` prints the jar directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hub.ignite.protocol import IGNITE_VERSION

from .errors import JarFetchError

#: ignite-rest-http would open Jetty on 8080 in every node; ignite-log4j2 would switch
#: logging to a log4j2 config file we do not ship.
OPTIONAL_JAR_PREFIXES = ("ignite-rest-http-", "ignite-log4j2-")

_MARKER = ".complete"
_POM = Path(__file__).with_name("pom.xml")
_LOG_TAIL_LINES = 40


def cache_root(cache_dir: Path | None = None) -> Path:
    """Directory holding ``ignite-<version>/``: ``cache_dir``, else ``$SYNCHUB_CACHE``, else
    ``~/.cache/synchub``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("SYNCHUB_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "synchub"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_jars(cache_dir: Path | None = None) -> Path:
    """Fetch the Ignite jars once and return the ``libs`` directory (classpath ``libs/*``).

    Idempotent and safe against concurrent callers: the copy happens under an exclusive
    lock file into a temporary directory that is renamed into place only once complete
    (the marker file ``libs/.complete`` is written before the rename).
    """
    base = cache_root(cache_dir) / f"ignite-{IGNITE_VERSION}"
    libs = base / "libs"
    if (libs / _MARKER).is_file():
        return libs
    with _file_lock(base.parent / f"ignite-{IGNITE_VERSION}.lock"):
        if (libs / _MARKER).is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise JarFetchError("Maven ('mvn') is not on PATH; it is needed to fetch the Ignite jars")
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="libs.tmp-", dir=base))
        try:
            work = tmp / "pom"
            work.mkdir()
            shutil.copyfile(_POM, work / "pom.xml")
            out = tmp / "libs"
            proc = subprocess.run(
                [mvn, "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={out}"],
                cwd=work,
                capture_output=True,
                text=True,
                check=False,
            )
            jars = sorted(p.name for p in out.glob("*.jar")) if out.is_dir() else []
            if proc.returncode != 0 or not any(j.startswith("ignite-core-") for j in jars):
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-_LOG_TAIL_LINES:])
                raise JarFetchError(
                    f"mvn dependency:copy-dependencies failed (rc={proc.returncode}):\n{tail}"
                )
            optional = out / "optional"
            optional.mkdir()
            for jar in jars:
                if jar.startswith(OPTIONAL_JAR_PREFIXES):
                    (out / jar).rename(optional / jar)
            (out / _MARKER).write_text("\n".join(jars) + "\n")
            if libs.exists():  # leftover without marker (interrupted older layout)
                shutil.rmtree(libs)
            out.rename(libs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return libs
