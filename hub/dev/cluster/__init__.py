"""Local Apache Ignite clusters for development and tests (``synchub ignite``, ``synchub dev``, the test
fixtures): jars (:mod:`.jars`), node XML (:mod:`.config`), JVM command (:mod:`.jvm`), readiness probes
(:mod:`hub.ignite.readiness`), node processes (:mod:`.process`), the cluster's parameters, ports and files
(:mod:`.layout`) and the cluster itself (:mod:`.cluster`).

Development tooling only: nothing on the ``synchub serve`` path imports it (``tests/test_layering.py``).
"""

from hub.ignite.protocol import IGNITE_VERSION
from hub.ignite.readiness import handshake, port_is_free

from .cluster import LocalCluster, NodeStatus
from .config import SslFiles
from .errors import ClusterStartError, IgniteError, JarFetchError
from .jars import cache_root, ensure_jars
from .security import DEFAULT_SUPERUSER

__all__ = [
    "DEFAULT_SUPERUSER",
    "IGNITE_VERSION",
    "ClusterStartError",
    "IgniteError",
    "JarFetchError",
    "LocalCluster",
    "NodeStatus",
    "SslFiles",
    "cache_root",
    "ensure_jars",
    "handshake",
    "port_is_free",
]
