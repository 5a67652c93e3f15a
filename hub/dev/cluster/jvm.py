"""The JVM command line of one Ignite server node."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from .errors import ClusterStartError

_MAIN_CLASS = "org.apache.ignite.startup.cmdline.CommandLineStartup"

# --add-opens needed by Ignite 2.x on Java >= 15 (bin/include/jvmdefaults.sh).
_ADD_OPENS = [
    *(
        f"java.base/{pkg}"
        for pkg in (
            "jdk.internal.access",
            "jdk.internal.misc",
            "sun.nio.ch",
            "sun.util.calendar",
            "sun.reflect.generics.reflectiveObjects",
            "java.io",
            "java.nio",
            "java.net",
            "java.util",
            "java.util.concurrent",
            "java.util.concurrent.locks",
            "java.util.concurrent.atomic",
            "java.lang",
            "java.lang.invoke",
            "java.math",
            "java.lang.reflect",
            "java.time",
            "java.text",
        )
    ),
    "java.management/com.sun.jmx.mbeanserver",
    "java.management/sun.management",
    "jdk.internal.jvmstat/sun.jvmstat.monitor",
    "jdk.management/com.sun.management.internal",
    "java.sql/java.sql",
    "java.desktop/java.awt.font",
]


def find_java() -> str:
    """The ``java`` executable: ``$JAVA_HOME/bin/java`` or ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ClusterStartError("no Java runtime: set JAVA_HOME or put 'java' (17) on PATH")
    return java


def add_opens() -> list[str]:
    """The ``--add-opens`` arguments any JVM running Ignite needs (server or client node)."""
    return [arg for target in _ADD_OPENS for arg in ("--add-opens", f"{target}=ALL-UNNAMED")]


def node_command(
    *,
    heap_mb: int,
    state_dir: Path,
    work_dir: Path,
    node_name: str,
    jvm_opts: Sequence[str],
    libs: Path,
    config_path: Path,
    classpath: Sequence[str] = (),
) -> list[str]:
    """The JVM command line of one node (``CommandLineStartup`` with its Spring XML file)."""
    opens = add_opens()
    return [
        find_java(),
        f"-Xms{heap_mb}m",
        f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC",
        *opens,
        "-DIGNITE_QUIET=false",
        "-DIGNITE_UPDATE_NOTIFIER=false",
        "-DIGNITE_NO_ASCII=true",
        "-DIGNITE_PERFORMANCE_SUGGESTIONS_DISABLED=true",
        "-Djava.net.preferIPv4Stack=true",
        f"-DIGNITE_HOME={state_dir}",
        f"-DIGNITE_WORK_DIR={work_dir}",
        f"-Dsynchub.node={node_name}",
        *jvm_opts,
        "-cp",
        ":".join(classpath or [f"{libs}/*"]),
        _MAIN_CLASS,
        str(config_path),
    ]
