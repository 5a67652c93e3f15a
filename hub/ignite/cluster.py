"""Local Apache Ignite 2.x clusters for development and tests.

A :class:`LocalCluster` runs one or more real Ignite server nodes as plain JVM processes
(``CommandLineStartup`` + a generated Spring XML file) from jars fetched once from Maven
Central by :func:`ensure_jars`.  Every cluster is isolated by ports: each node binds only
127.0.0.1, gets its own thin-client, discovery and communication port (port range 0), and
its discovery IP finder lists exactly this cluster's discovery ports, so several clusters
(``make run``, test sessions, other developers) can run side by side on one machine.

State lives in ``state_dir``: ``cluster.json`` (the parameters), ``node-<i>.xml`` (config),
``node-<i>.log`` (stdout+stderr of the JVM), ``node-<i>.pid`` and ``work/node-<i>/``.

Command line: ``python -m hub.ignite.cluster fetch`` prints the jar directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from hub.ignite.protocol import (
    FLAG_ERROR,
    FLAG_TOPOLOGY,
    I32,
    I64,
    IGNITE_VERSION,
    OpCode,
    Status,
    decode_handshake,
    encode_handshake,
    encode_request,
)

__all__ = [
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


#: Jars fetched by the pom but kept off the classpath (moved to ``libs/optional``).
#: ignite-rest-http would open Jetty on 8080 in every node; ignite-log4j2 would switch
#: logging to a log4j2 config file we do not ship.
OPTIONAL_JAR_PREFIXES = ("ignite-rest-http-", "ignite-log4j2-")

_MARKER = ".complete"
_POM = Path(__file__).with_name("pom.xml")
_MAIN_CLASS = "org.apache.ignite.startup.cmdline.CommandLineStartup"
_LOG_TAIL_LINES = 40
_STOP_GRACE_S = 10.0

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

#: Ignite's built-in superuser (exists whenever authentication is enabled).
DEFAULT_SUPERUSER = ("ignite", "ignite")
_PROBE_REQ_ID = 0x5359_4E43
_GET_CACHE_NAMES = encode_request(OpCode.CACHE_GET_NAMES, _PROBE_REQ_ID)


class IgniteError(Exception):
    """Base class for local-cluster errors."""


class JarFetchError(IgniteError):
    """The Ignite jars could not be fetched (no Maven, no network, ...)."""


class ClusterStartError(IgniteError):
    """A node did not start; the message carries the tail of its log."""


# --------------------------------------------------------------------------- jars


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


def find_java() -> str:
    """The ``java`` executable: ``$JAVA_HOME/bin/java`` or ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(Path(home) / "bin" / "java", os.X_OK):
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ClusterStartError("no Java runtime: set JAVA_HOME or put 'java' (17) on PATH")
    return java


# --------------------------------------------------------------------------- probes


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


def _client_tls() -> ssl.SSLContext:
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
    try:
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
            sock = stack.enter_context(tls.wrap_socket(raw)) if tls is not None else raw
            sock.settimeout(timeout)
            sock.sendall(encode_handshake(credentials))
            # Whole frames are read before closing, so the node never logs a connection reset.
            reply = _recv_frame(sock)
            if not reply:
                return False
            answer = decode_handshake(reply)
            if not answer.ok:
                # e.g. "Node in recovery mode." while starting; or bad credentials
                return auth_failure_ok and not probe and answer.status == Status.AUTH_FAILED
            if not probe:
                return True
            sock.sendall(_GET_CACHE_NAMES)
            resp = _recv_frame(sock)
            if resp is None or len(resp) < 10:
                return False
            req_id, flags = struct.unpack_from("<qh", resp)
            if req_id != _PROBE_REQ_ID or flags & FLAG_ERROR or not flags & FLAG_TOPOLOGY:
                return False
            (top_ver,) = I64.unpack_from(resp, 10)
            return bool(top_ver >= 1)
    except (OSError, struct.error):  # ssl.SSLError is an OSError
        return False


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a listening socket could bind ``host:port`` now (SO_REUSEADDR like the JVM)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _tail(path: Path, lines: int = _LOG_TAIL_LINES, offset: int = 0) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except OSError:
        return f"(no log at {path})"
    text = data.decode(errors="replace").splitlines()[-lines:]
    return "\n".join(text) if text else "(log is empty)"


# --------------------------------------------------------------------------- config

_CONFIG_TEMPLATE = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by synchub (hub/ignite/cluster.py) for {node_name}. Do not edit. -->
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans
                           http://www.springframework.org/schema/beans/spring-beans.xsd">
  <!--
    Cluster "{cluster}": {nodes} node(s), intended backups = {backups}.
    Caches are created by clients with their own CacheConfiguration (backups included);
    synchub creates its caches with backups={backups} for this cluster.
  -->
  <bean class="org.apache.ignite.configuration.IgniteConfiguration">
    <property name="igniteInstanceName" value="{node_name}"/>
    <property name="consistentId" value="{node_name}"/>
    <property name="localHost" value="127.0.0.1"/>
    <property name="workDirectory" value="{work_dir}"/>
    <property name="peerClassLoadingEnabled" value="false"/>
    <property name="failureDetectionTimeout" value="5000"/>
    <property name="clientFailureDetectionTimeout" value="5000"/>
    <property name="metricsLogFrequency" value="0"/>
{security}    <!-- No REST/binary TCP connector (would bind 11211+ shared by all clusters). -->
    <property name="connectorConfiguration"><null/></property>

    <property name="clientConnectorConfiguration">
      <bean class="org.apache.ignite.configuration.ClientConnectorConfiguration">
        <property name="host" value="127.0.0.1"/>
        <property name="port" value="{client_port}"/>
        <property name="portRange" value="0"/>
{client_ssl}      </bean>
    </property>

    <property name="dataStorageConfiguration">
      <bean class="org.apache.ignite.configuration.DataStorageConfiguration">
        <property name="defaultDataRegionConfiguration">
          <bean class="org.apache.ignite.configuration.DataRegionConfiguration">
            <property name="name" value="default"/>
            <property name="initialSize" value="{region_initial}"/>
            <property name="maxSize" value="{region_max}"/>
            <property name="persistenceEnabled" value="{persistence}"/>
          </bean>
        </property>
{storage_extra}      </bean>
    </property>

    <property name="discoverySpi">
      <bean class="org.apache.ignite.spi.discovery.tcp.TcpDiscoverySpi">
        <property name="localAddress" value="127.0.0.1"/>
        <property name="localPort" value="{discovery_port}"/>
        <property name="localPortRange" value="0"/>
        <property name="ipFinder">
          <bean class="org.apache.ignite.spi.discovery.tcp.ipfinder.vm.TcpDiscoveryVmIpFinder">
            <property name="addresses">
              <list>
{discovery_addresses}
              </list>
            </property>
          </bean>
        </property>
      </bean>
    </property>

    <property name="communicationSpi">
      <bean class="org.apache.ignite.spi.communication.tcp.TcpCommunicationSpi">
        <property name="localAddress" value="127.0.0.1"/>
        <property name="localPort" value="{communication_port}"/>
        <property name="localPortRange" value="0"/>
        <property name="sharedMemoryPort" value="-1"/>
      </bean>
    </property>
  </bean>
</beans>
"""


_SECURITY_XML = """\
    <!-- Authentication needs native persistence (users live in the metastorage). -->
    <property name="authenticationEnabled" value="true"/>
"""

_STORAGE_XML = """\
        <property name="storagePath" value="{work}/db"/>
        <property name="walPath" value="{work}/wal"/>
        <property name="walArchivePath" value="{work}/wal-archive"/>
        <property name="walSegmentSize" value="{wal_segment}"/>
        <property name="walSegments" value="4"/>
        <property name="maxWalArchiveSize" value="{wal_archive}"/>
"""

_CLIENT_SSL_XML = """\
        <!-- TLS only: plain connections are refused. -->
        <property name="sslEnabled" value="true"/>
        <property name="sslClientAuth" value="false"/>
        <property name="useIgniteSslContextFactory" value="false"/>
        <property name="sslContextFactory">
          <bean class="org.apache.ignite.ssl.SslContextFactory">
            <property name="keyStoreFilePath" value="{keystore}"/>
            <property name="keyStorePassword" value="{password}"/>
            <property name="keyStoreType" value="{store_type}"/>
            <property name="trustStoreFilePath" value="{keystore}"/>
            <property name="trustStorePassword" value="{password}"/>
            <property name="trustStoreType" value="{store_type}"/>
          </bean>
        </property>
"""


@dataclasses.dataclass(frozen=True)
class SslFiles:
    """Server side of TLS on the thin-client connector: a keystore with the node's key and
    certificate chain (see :func:`hub.ignite.pki.make_pki`). Clients verify against the CA."""

    keystore: Path
    password: str
    store_type: str = "PKCS12"

    def as_dict(self) -> dict[str, str]:
        return {"keystore": str(self.keystore), "password": self.password, "store_type": self.store_type}


# --------------------------------------------------------------------------- cluster


@dataclasses.dataclass(frozen=True)
class NodeStatus:
    """State of one node as seen from its PID file and client port."""

    index: int
    pid: int | None
    running: bool
    ready: bool
    address: tuple[str, int]
    log: Path

    def describe(self) -> str:
        host, port = self.address
        state = "ready" if self.ready else ("starting" if self.running else "stopped")
        pid = self.pid if self.running else "-"
        return f"node-{self.index} {host}:{port} {state} pid={pid}"


#: Node processes that had not exited when their cluster let go of them.
_UNREAPED: list[subprocess.Popen[bytes]] = []


class LocalCluster:
    """One or more Ignite server nodes on 127.0.0.1 with their own port block and state dir.

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
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self.start_times: dict[int, float] = {}

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
            "version": IGNITE_VERSION,
        }

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> LocalCluster:
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
        """Native persistence is on (required by, and only used for, authentication)."""
        return self.authentication is not None

    def client_options(self, credentials: tuple[str, str] | None = None) -> dict[str, object]:
        """pyignite ``Client``/``AioClient`` options for this cluster (TLS without certificate
        check; pass ``credentials`` to override the cluster's user)."""
        out: dict[str, object] = {}
        creds = credentials or self.authentication
        if creds is not None:
            out["username"], out["password"] = creds
        if self.ssl is not None:
            out["use_ssl"] = True
            out["ssl_cert_reqs"] = ssl.CERT_NONE
        return out

    def _probe(self, i: int, *, probe: bool = True, timeout: float = 1.0) -> bool:
        host, port = self.addresses[i]
        return handshake(
            host,
            port,
            timeout=timeout,
            probe=probe,
            tls=_client_tls() if self.ssl is not None else None,
            credentials=self.authentication,
            auth_failure_ok=True,
        )

    def _admin(self) -> tuple[str, str]:
        """Credentials that log in now: the cluster's user once created, else the superuser."""
        assert self.authentication is not None
        host, port = self.addresses[0]
        tls = _client_tls() if self.ssl is not None else None
        for creds in (self.authentication, DEFAULT_SUPERUSER):
            if handshake(host, port, probe=False, tls=tls, credentials=creds):
                return creds
        raise ClusterStartError(
            f"cluster {self.name!r}: neither the configured user nor the default superuser can log in"
        )

    def _secure_setup(self) -> None:
        """Activate a persistent cluster (it starts INACTIVE the first time) and create the user."""
        from pyignite import Client  # type: ignore[import-untyped,unused-ignore]
        from pyignite.datatypes.cluster_state import (  # type: ignore[import-untyped,unused-ignore]
            ClusterState,
        )

        assert self.authentication is not None
        user, password = self.authentication
        admin = self._admin()
        client = Client(timeout=30.0, **self.client_options(admin))
        client.connect(self.addresses)
        try:
            cluster = client.get_cluster()
            if cluster.get_state() != ClusterState.ACTIVE:
                cluster.set_state(ClusterState.ACTIVE)
            if admin != self.authentication:
                quoted = user.replace('"', '""')
                pw = password.replace("'", "''")
                verb = "ALTER" if user == DEFAULT_SUPERUSER[0] else "CREATE"
                with client.sql(f"{verb} USER \"{quoted}\" WITH PASSWORD '{pw}'") as cur:
                    list(cur)
        finally:
            client.close()

    # ---- config / command line

    def render_config(self, i: int) -> str:
        """Spring XML for node ``i``."""
        addrs = "\n".join(
            f"                <value>{self.HOST}:{self.discovery_port + j}</value>" for j in range(self.nodes)
        )
        client_ssl = ""
        if self.ssl is not None:
            client_ssl = _CLIENT_SSL_XML.format(
                keystore=escape(str(self.ssl.keystore.resolve())),
                password=escape(self.ssl.password),
                store_type=escape(self.ssl.store_type),
            )
        storage_extra = ""
        if self.persistent:
            storage_extra = _STORAGE_XML.format(
                work=escape(str(self.work_dir(i))), wal_segment=4 * 1024 * 1024, wal_archive=64 * 1024 * 1024
            )
        return _CONFIG_TEMPLATE.format(
            security=_SECURITY_XML if self.authentication is not None else "",
            client_ssl=client_ssl,
            persistence="true" if self.persistent else "false",
            storage_extra=storage_extra,
            node_name=escape(self.node_name(i)),
            cluster=escape(self.name),
            nodes=self.nodes,
            backups=self.backups,
            work_dir=escape(str(self.work_dir(i))),
            client_port=self.client_port + i,
            discovery_port=self.discovery_port + i,
            communication_port=self.communication_port + i,
            discovery_addresses=addrs,
            region_initial=self.region_initial_mb * 1024 * 1024,
            region_max=self.region_max_mb * 1024 * 1024,
        )

    def command(self, i: int, libs: Path) -> list[str]:
        """The JVM command line for node ``i``."""
        opens = [arg for target in _ADD_OPENS for arg in ("--add-opens", f"{target}=ALL-UNNAMED")]
        return [
            find_java(),
            f"-Xms{self.heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            *opens,
            "-DIGNITE_QUIET=false",
            "-DIGNITE_UPDATE_NOTIFIER=false",
            "-DIGNITE_NO_ASCII=true",
            "-DIGNITE_PERFORMANCE_SUGGESTIONS_DISABLED=true",
            "-Djava.net.preferIPv4Stack=true",
            f"-DIGNITE_HOME={self.state_dir}",
            f"-DIGNITE_WORK_DIR={self.work_dir(i)}",
            f"-Dsynchub.node={self.node_name(i)}",
            *self.jvm_opts,
            "-cp",
            f"{libs}/*",
            _MAIN_CLASS,
            str(self.config_path(i)),
        ]

    # ---- PID handling

    def _read_pid(self, i: int) -> int | None:
        try:
            return int(self.pid_path(i).read_text().strip())
        except (OSError, ValueError):
            return None

    def _owns(self, pid: int) -> bool:
        """True if ``pid`` is a live java process started for this state dir."""
        args = _read_cmdline(pid)
        if not args or _is_zombie(pid):
            return False
        return os.path.basename(args[0]).startswith("java") and any(str(self.state_dir) in a for a in args)

    def node_pid(self, i: int) -> int | None:
        """PID of node ``i`` if it is running (verified), else None."""
        pid = self._read_pid(i)
        return pid if pid is not None and self._owns(pid) else None

    def _write_pid(self, i: int, pid: int) -> None:
        tmp = self.pid_path(i).with_suffix(".pid.tmp")
        tmp.write_text(f"{pid}\n")
        tmp.replace(self.pid_path(i))

    def _reap(self, i: int, timeout: float = 10.0) -> None:
        proc = self._procs.pop(i, None)
        if proc is not None:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                # Still exiting: keep the handle so it is neither a zombie nor a ResourceWarning.
                _UNREAPED.append(proc)

    # ---- lifecycle

    def start(self, timeout: float = 90) -> list[tuple[str, int]]:
        """Start all nodes in order (skipping ones already running) and wait until each
        completes a thin-client handshake. On failure stops what it started and raises
        :class:`ClusterStartError`."""
        libs = ensure_jars(self.cache_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / self.STATE_FILE).write_text(json.dumps(self._params(), indent=2) + "\n")
        deadline = time.monotonic() + timeout
        started: list[int] = []
        # A persistent cluster answers requests only once active: wait for the handshakes of
        # all nodes first, activate (and create the user), then require the full probe.
        early = self.persistent
        try:
            for i in range(self.nodes):
                if self.node_pid(i) is not None:
                    self._wait_ready(i, deadline, offset=0, probe=not early)
                    continue
                started.append(i)
                self._start_one(i, libs, deadline, probe=not early)
            if early:
                self._secure_setup()
                for i in range(self.nodes):
                    self._wait_ready(i, deadline, offset=0)
        except BaseException:
            for i in reversed(started):
                self._stop_nodes([i])
            raise
        return self.addresses

    def start_node(self, i: int, timeout: float = 90) -> tuple[str, int]:
        """(Re)start node ``i`` (e.g. after :meth:`kill_node`) and wait until it is ready."""
        self._check_index(i)
        if self.node_pid(i) is not None:
            raise IgniteError(f"node {i} is already running (pid {self.node_pid(i)})")
        libs = ensure_jars(self.cache_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_one(i, libs, time.monotonic() + timeout)
        except BaseException:
            self._stop_nodes([i])
            raise
        return self.addresses[i]

    def _start_one(self, i: int, libs: Path, deadline: float, *, probe: bool = True) -> None:
        self._reap(i)
        self.pid_path(i).unlink(missing_ok=True)
        log = self.log_path(i)
        busy = [f"{kind} port {port}" for kind, port in self._ports(i).items() if not port_is_free(port)]
        if busy:
            raise ClusterStartError(
                f"node {i} of cluster {self.name!r} cannot start: {', '.join(busy)} on {self.HOST} "
                f"already in use (another cluster or process?)\n--- last lines of {log} ---\n{_tail(log)}"
            )
        self.work_dir(i).mkdir(parents=True, exist_ok=True)
        self.config_path(i).write_text(self.render_config(i))
        cmd = self.command(i, libs)
        with open(log, "ab") as fh:
            offset = fh.tell()
            fh.write(f"=== synchub: starting node {i} at {time.strftime('%Y-%m-%d %H:%M:%S')} ===\n".encode())
            fh.write((" ".join(cmd) + "\n").encode())
            fh.flush()
            began = time.monotonic()
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
                start_new_session=True,
            )
        self._procs[i] = proc
        self._write_pid(i, proc.pid)
        self._wait_ready(i, deadline, offset, probe=probe)
        self.start_times[i] = time.monotonic() - began

    def _wait_ready(self, i: int, deadline: float, offset: int, *, probe: bool = True) -> None:
        host, port = self.addresses[i]
        while True:
            proc = self._procs.get(i)
            exited = proc.poll() is not None if proc is not None else self.node_pid(i) is None
            if exited:
                code = f" with code {proc.returncode}" if proc is not None else ""
                raise ClusterStartError(
                    f"node {i} of cluster {self.name!r} exited{code} before its client port "
                    f"{host}:{port} was ready\n--- last lines of {self.log_path(i)} ---\n"
                    f"{_tail(self.log_path(i), offset=offset)}"
                )
            if self._probe(i, probe=probe):
                return
            if time.monotonic() >= deadline:
                raise ClusterStartError(
                    f"node {i} of cluster {self.name!r} not ready on {host}:{port} before the timeout\n"
                    f"--- last lines of {self.log_path(i)} ---\n{_tail(self.log_path(i), offset=offset)}"
                )
            time.sleep(0.2)

    def _signal(self, pid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _stop_nodes(self, indexes: Sequence[int], grace: float = _STOP_GRACE_S) -> None:
        victims: dict[int, int] = {}
        for i in indexes:
            pid = self._read_pid(i)
            if pid is not None and self._owns(pid):
                self._signal(pid, signal.SIGTERM)
                victims[i] = pid
        end = time.monotonic() + grace
        for i, pid in victims.items():
            proc = self._procs.get(i)
            while self._owns(pid) and time.monotonic() < end:
                if proc is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=0.1)
                else:
                    time.sleep(0.1)
            if self._owns(pid):
                self._signal(pid, signal.SIGKILL)
                self._wait_gone(i, pid)
        for i in indexes:
            self._reap(i)
            self.pid_path(i).unlink(missing_ok=True)

    def _wait_gone(self, i: int, pid: int, timeout: float = 10.0) -> None:
        proc = self._procs.get(i)
        end = time.monotonic() + timeout
        while self._owns(pid) and time.monotonic() < end:
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.1)
            else:
                time.sleep(0.05)

    def stop(self, grace: float = _STOP_GRACE_S) -> None:
        """Stop every node of this cluster: SIGTERM, then SIGKILL after ``grace`` seconds.
        Only PIDs from this cluster's PID files that still belong to it are signalled."""
        self._stop_nodes(range(self.nodes), grace)

    def kill_node(self, i: int) -> None:
        """SIGKILL node ``i`` (failover tests) and wait until the process is gone."""
        self._check_index(i)
        pid = self._read_pid(i)
        if pid is not None and self._owns(pid):
            self._signal(pid, signal.SIGKILL)
            self._wait_gone(i, pid)
        self._reap(i)
        self.pid_path(i).unlink(missing_ok=True)

    def status(self) -> list[NodeStatus]:
        result = []
        for i, (host, port) in enumerate(self.addresses):
            pid = self._read_pid(i)
            running = pid is not None and self._owns(pid)
            ready = running and self._probe(i)
            result.append(NodeStatus(i, pid, running, ready, (host, port), self.log_path(i)))
        return result

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _main(argv: list[str]) -> int:
    if argv[:1] == ["fetch"]:
        try:
            print(ensure_jars())
        except JarFetchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    print("usage: python -m hub.ignite.cluster fetch", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
