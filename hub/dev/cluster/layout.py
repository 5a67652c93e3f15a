"""A local Ignite cluster's parameters and layout: its ports, its files, how its nodes are configured.

Every cluster is isolated by ports: each node binds only 127.0.0.1, gets its own thin-client, discovery
and communication port (port range 0), and its discovery IP finder lists exactly this cluster's discovery
ports, so several clusters (``make run``, test sessions, other developers) can run side by side on one
machine.

State lives in ``state_dir``: ``cluster.json`` (the parameters), ``node-<i>.xml`` (config),
``node-<i>.log`` (stdout+stderr of the JVM), ``node-<i>.pid`` and ``work/node-<i>/``. Running the nodes
is :class:`~hub.dev.cluster.cluster.LocalCluster`'s part.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from hub.ignite.protocol import IGNITE_VERSION

from .config import SslFiles, render_node_config
from .errors import IgniteError
from .jvm import node_command
from .security import client_options


class ClusterLayout:
    """The parameters of one or more Ignite server nodes on 127.0.0.1 with their own port block and
    state dir, and where each node's ports and files are.

    Node ``i`` uses client port ``client_port + i``, discovery ``discovery_port + i`` and
    communication ``communication_port + i`` (all with port range 0).
    """

    HOST = "127.0.0.1"
    STATE_FILE = "cluster.json"

    def __init__(
        self,
        state_dir: Path,
        nodes: int = 1,
        backups: int = 0,
        client_port: int = 10800,
        discovery_port: int = 47500,
        communication_port: int = 47100,
        heap_mb: int = 768,
        name: str = "synchub",
        *,
        region_initial_mb: int = 256,
        region_max_mb: int = 512,
        jvm_opts: Sequence[str] = (),
        cache_dir: Path | None = None,
        authentication: tuple[str, str] | None = None,
        ssl: SslFiles | None = None,
        rest_port: int | None = None,
        persistence: bool = False,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        if not 0 <= backups < max(nodes, 1) + 1:
            raise ValueError("backups must be between 0 and nodes")
        self.state_dir = Path(state_dir).resolve()
        self.nodes = nodes
        self.backups = backups
        self.client_port = client_port
        self.discovery_port = discovery_port
        self.communication_port = communication_port
        self.heap_mb = heap_mb
        self.name = name
        self.region_initial_mb = region_initial_mb
        self.region_max_mb = region_max_mb
        self.jvm_opts = list(jvm_opts)
        self.cache_dir = cache_dir
        # Opt-in security. ``authentication`` = (user, password): authenticationEnabled with
        # native persistence; the user is created (or, for "ignite", its password set) on
        # first start. ``ssl``: the thin-client connector accepts TLS only.
        self.authentication = authentication
        self.ssl = ssl
        # Opt-in REST API over HTTP (ignite-rest-http, from libs/optional/) on rest_port + i, its
        # TCP connector on rest_port + 100 + i: only the ingest benchmark's baseline uses it.
        self.rest_port = rest_port
        # Opt-in native persistence without authentication (authentication implies it): data and
        # binary types survive a restart of every node. Only the chaos suite's restart profile uses it.
        self.persistence = persistence

    # ---- persistence of parameters (lets `synchub ignite stop/status` find the cluster)

    def _params(self) -> dict[str, object]:
        return {
            "nodes": self.nodes,
            "backups": self.backups,
            "client_port": self.client_port,
            "discovery_port": self.discovery_port,
            "communication_port": self.communication_port,
            "heap_mb": self.heap_mb,
            "name": self.name,
            "region_initial_mb": self.region_initial_mb,
            "region_max_mb": self.region_max_mb,
            "jvm_opts": self.jvm_opts,
            # Throwaway local credentials, kept so `synchub ignite status/stop` can probe the node.
            "authentication": list(self.authentication) if self.authentication else None,
            "ssl": self.ssl.as_dict() if self.ssl else None,
            "rest_port": self.rest_port,
            "persistence": self.persistence,
            "version": IGNITE_VERSION,
        }

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Self:
        """Re-open a cluster started earlier (possibly by another process) from ``cluster.json``."""
        path = Path(state_dir) / cls.STATE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise IgniteError(f"no cluster in {state_dir} ({cls.STATE_FILE} missing)") from None
        return cls(
            Path(state_dir),
            nodes=int(data["nodes"]),
            backups=int(data["backups"]),
            client_port=int(data["client_port"]),
            discovery_port=int(data["discovery_port"]),
            communication_port=int(data["communication_port"]),
            heap_mb=int(data["heap_mb"]),
            name=str(data["name"]),
            region_initial_mb=int(data.get("region_initial_mb", 256)),
            region_max_mb=int(data.get("region_max_mb", 512)),
            jvm_opts=[str(o) for o in data.get("jvm_opts", [])],
            authentication=(str(auth[0]), str(auth[1])) if (auth := data.get("authentication")) else None,
            ssl=SslFiles(Path(tls["keystore"]), str(tls["password"]), str(tls["store_type"]))
            if (tls := data.get("ssl"))
            else None,
            rest_port=int(data["rest_port"]) if data.get("rest_port") is not None else None,
            persistence=bool(data.get("persistence", False)),
        )

    # ---- paths and addresses

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Thin-client endpoints of all nodes, in node order."""
        return [(self.HOST, self.client_port + i) for i in range(self.nodes)]

    def node_name(self, i: int) -> str:
        return f"{self.name}-{i}"

    def log_path(self, i: int) -> Path:
        return self.state_dir / f"node-{i}.log"

    def pid_path(self, i: int) -> Path:
        return self.state_dir / f"node-{i}.pid"

    def config_path(self, i: int) -> Path:
        return self.state_dir / f"node-{i}.xml"

    def work_dir(self, i: int) -> Path:
        return self.state_dir / "work" / f"node-{i}"

    def _ports(self, i: int) -> dict[str, int]:
        return {
            "client": self.client_port + i,
            "discovery": self.discovery_port + i,
            "communication": self.communication_port + i,
        }

    def _check_index(self, i: int) -> None:
        if not 0 <= i < self.nodes:
            raise IndexError(f"node index {i} out of range 0..{self.nodes - 1}")

    # ---- security

    @property
    def persistent(self) -> bool:
        """Native persistence is on: asked for, or required by authentication."""
        return self.persistence or self.authentication is not None

    def client_options(self, credentials: tuple[str, str] | None = None) -> dict[str, object]:
        """pyignite ``Client``/``AioClient`` options for this cluster (TLS without certificate
        check; pass ``credentials`` to override the cluster's user)."""
        return client_options(credentials or self.authentication, tls=self.ssl is not None)

    # ---- config / command line

    def render_config(self, i: int) -> str:
        """Spring XML for node ``i``."""
        return render_node_config(self, i)

    def command(self, i: int, libs: Path) -> list[str]:
        """The JVM command line for node ``i``."""
        jvm_opts, classpath = list(self.jvm_opts), [f"{libs}/*"]
        if self.rest_port is not None:  # the REST module, kept out of libs/ (jars.py)
            classpath += [str(jar) for jar in (libs / "optional").glob("ignite-rest-http-*.jar")]
            jvm_opts += ["-DIGNITE_JETTY_HOST=127.0.0.1", f"-DIGNITE_JETTY_PORT={self.rest_port + i}"]
        return node_command(
            heap_mb=self.heap_mb,
            state_dir=self.state_dir,
            work_dir=self.work_dir(i),
            node_name=self.node_name(i),
            jvm_opts=jvm_opts,
            libs=libs,
            config_path=self.config_path(i),
            classpath=classpath,
        )
