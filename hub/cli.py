"""``synchub`` command line.

Subcommands are registered in :func:`build_parser`; each one stores its handler in
``args.handler`` (a ``Callable[[argparse.Namespace], int]``).  To add a command, write a
``_add_<name>(subparsers)`` function that creates the subparser and calls
``set_defaults(handler=...)``, and call it from :func:`build_parser`.

``synchub serve`` must not load the development tooling (``hub.dev``: Maven, JVM processes, PKI), so
the ``ignite`` and ``dev`` commands import it inside their handlers (``tests/test_layering.py``).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.ignite.protocol import IGNITE_VERSION

if TYPE_CHECKING:
    from hub.dev.cluster import LocalCluster

Handler = Callable[[argparse.Namespace], int]

DEFAULT_STATE_DIR = Path(".synchub") / "ignite"


# --------------------------------------------------------------------------- ignite


def _dev_command(handler: Handler) -> Handler:
    """A command of the development tooling: its cluster errors become ``error: ...`` and exit code 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from hub.dev.cluster import IgniteError

        try:
            return handler(args)
        except IgniteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


@_dev_command
def cmd_ignite_start(args: argparse.Namespace) -> int:
    from hub.dev.cluster import LocalCluster

    cluster = LocalCluster(
        Path(args.state_dir),
        nodes=args.nodes,
        backups=args.backups,
        client_port=args.client_port,
        discovery_port=args.discovery_port,
        communication_port=args.communication_port,
        heap_mb=args.heap_mb,
        name=args.name,
    )
    addresses = cluster.start(timeout=args.timeout)
    for host, port in addresses:
        print(f"{host}:{port}")
    return 0


@_dev_command
def cmd_ignite_stop(args: argparse.Namespace) -> int:
    from hub.dev.cluster import LocalCluster

    state_dir = Path(args.state_dir)
    if not (state_dir / LocalCluster.STATE_FILE).is_file():
        print(f"no cluster in {state_dir}", file=sys.stderr)
        return 0
    LocalCluster.from_state_dir(state_dir).stop()
    return 0


@_dev_command
def cmd_ignite_status(args: argparse.Namespace) -> int:
    from hub.dev.cluster import LocalCluster

    state_dir = Path(args.state_dir)
    if not (state_dir / LocalCluster.STATE_FILE).is_file():
        print(f"no cluster in {state_dir}")
        return 1
    statuses = LocalCluster.from_state_dir(state_dir).status()
    for st in statuses:
        print(st.describe())
    return 0 if all(st.ready for st in statuses) else 1


@_dev_command
def cmd_ignite_fetch(args: argparse.Namespace) -> int:
    from hub.dev.cluster import ensure_jars

    print(ensure_jars())
    return 0


def _add_ignite(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ignite = subparsers.add_parser("ignite", help=f"local Apache Ignite {IGNITE_VERSION} cluster")
    ignite_sub = ignite.add_subparsers(dest="ignite_command", required=True, metavar="COMMAND")

    def with_state_dir(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument(
            "--state-dir",
            default=str(DEFAULT_STATE_DIR),
            help="cluster state directory (config, logs, PID files, work dirs); default %(default)s",
        )
        return p

    start = with_state_dir(ignite_sub.add_parser("start", help="start nodes and print their endpoints"))
    start.add_argument("--nodes", type=int, default=1, help="number of server nodes (default 1)")
    start.add_argument("--backups", type=int, default=0, help="backups for caches synchub creates")
    start.add_argument("--client-port", type=int, default=10800, help="thin-client port of node 0")
    start.add_argument("--discovery-port", type=int, default=47500, help="discovery port of node 0")
    start.add_argument("--communication-port", type=int, default=47100, help="communication port of node 0")
    start.add_argument("--heap-mb", type=int, default=768, help="JVM heap per node in MB")
    start.add_argument("--name", default="synchub", help="cluster name (node names are NAME-i)")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for the nodes")
    start.set_defaults(handler=cmd_ignite_start)

    stop = with_state_dir(ignite_sub.add_parser("stop", help="stop the nodes started from --state-dir"))
    stop.set_defaults(handler=cmd_ignite_stop)

    status = with_state_dir(
        ignite_sub.add_parser("status", help="show node states (exit 1 unless all ready)")
    )
    status.set_defaults(handler=cmd_ignite_status)

    fetch = ignite_sub.add_parser("fetch", help="download the Ignite jars (once) and print their directory")
    fetch.set_defaults(handler=cmd_ignite_fetch)


# --------------------------------------------------------------------------- serve / dev


def _run_hub(config: Any, *, writer: Any = None, sock: Any = None) -> None:
    """Run the hub with uvicorn until Ctrl-C or SIGTERM (graceful: see ``hub.app.HubServer``);
    ``writer``: an optional coroutine run alongside; ``sock``: a listening socket to serve on
    (a worker of several, ``hub.supervisor``) instead of binding ``host:port``."""
    import asyncio
    import contextlib

    import uvicorn

    from hub.app import HubServer, create_app, server_options
    from hub.gcpolicy import FrozenGc
    from hub.logs import setup_logging

    setup_logging(config.hub.log_level.upper(), json_lines=config.hub.log_json)
    opts = server_options(config)
    opts["log_config"] = None  # uvicorn's loggers propagate to the hub's JSON handler
    opts["timeout_graceful_shutdown"] = max(1, config.hub.shutdown_deadline_ms // 1000)
    server = HubServer(uvicorn.Config(create_app(config), **opts))

    async def run() -> None:
        task = asyncio.create_task(writer) if writer is not None else None
        collector = FrozenGc(asyncio.get_running_loop()) if config.hub.python_gc == "freeze" else None
        watch = asyncio.create_task(_after_start(server, collector)) if collector is not None else None
        try:
            await server.serve(sockets=[sock] if sock is not None else None)
        finally:
            if watch is not None:
                watch.cancel()
            if collector is not None:
                collector.stop()
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    asyncio.run(run())


async def _after_start(server: Any, collector: Any) -> None:
    """Start the collector policy once the server is up (what start-up built is then frozen)."""
    import asyncio

    while not server.started:
        await asyncio.sleep(0.05)
    collector.start()


def cmd_serve(args: argparse.Namespace) -> int:
    from hub.config import load_config
    from hub.core.errors import HubUsageError

    try:
        config = load_config(args.config)
    except HubUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.host or args.port:
        import dataclasses

        hub = dataclasses.replace(
            config.hub, host=args.host or config.hub.host, port=args.port or config.hub.port
        )
        config = dataclasses.replace(config, hub=hub)
    problem = _probe_ignite(config)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 3
    from hub.supervisor import worker_count

    n = worker_count(config.hub.workers)
    if n == 1:
        _run_hub(config)
        return 0
    return _supervise(config, n)


def _supervise(config: Any, n: int) -> int:
    """``n`` hub processes on one port (``hub.supervisor``)."""
    from hub.logs import setup_logging
    from hub.supervisor import Supervisor, listen_socket

    host, port = config.hub.host, config.hub.port
    try:  # fail now, once, if the port is taken (closed before the workers bind their own)
        listen_socket(host, port).close()
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 3
    setup_logging(config.hub.log_level.upper(), json_lines=config.hub.log_json)

    def work(index: int) -> int:
        _run_hub(config, sock=listen_socket(host, port, listen=False))
        return 0

    return Supervisor(n, work).run()


def _probe_ignite(config: Any) -> str | None:
    """Connect to Ignite once before serving; a clear message when it cannot be reached."""
    import asyncio

    from hub.core.errors import IgniteConnectError
    from hub.store.ignite import probe

    ign = config.ignite
    where = ", ".join(f"{h}:{p}" for h, p in ign.addresses)
    try:
        asyncio.run(probe(list(ign.addresses), ign.client_kwargs(), ign.connect_timeout_ms / 1000))
    except IgniteConnectError as exc:
        return f"Ignite at {where} refused the connection: {exc}"
    except Exception as exc:
        return f"cannot reach Ignite at {where} ([ignite] addresses / SYNCHUB_IGNITE): {exc}"
    return None


def _dev_cluster(state_dir: Path) -> tuple[LocalCluster, bool]:
    """The dev Ignite node: reuse the one recorded in ``state_dir`` if it is running, else start one.
    Returns the cluster and whether this process started it (and so must stop it)."""
    from hub.dev.cluster import LocalCluster

    if (state_dir / LocalCluster.STATE_FILE).is_file():
        existing = LocalCluster.from_state_dir(state_dir)
        statuses = existing.status()
        if statuses and all(st.ready for st in statuses):
            print(f"synchub dev: reusing the Ignite node of {state_dir}")
            return existing, False
    cluster = LocalCluster(state_dir)
    print(f"synchub dev: starting an Ignite node in {state_dir} ...")
    cluster.start()
    return cluster, True


@_dev_command
def cmd_dev(args: argparse.Namespace) -> int:
    from hub.dev.demo import dev_config, metrics_writer

    cluster, started = _dev_cluster(Path(args.state_dir))
    try:
        config = dev_config(cluster.addresses, host=args.host, port=args.port)
        metrics = config.collection("metrics")
        writer = None
        if metrics is not None and not args.no_writer:
            writer = metrics_writer(cluster.addresses, metrics)
        print(f"synchub dev: http://{args.host}:{args.port}")
        _run_hub(config, writer=writer)
    finally:
        if started:
            print("synchub dev: stopping the Ignite node")
            cluster.stop()
    return 0


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser("serve", help="run the hub (uvicorn) with a TOML config")
    serve.add_argument(
        "--config", "-c", default=None, help="TOML config file (SYNCHUB_* env vars override it)"
    )
    serve.add_argument("--host", default=None, help="override [hub] host")
    serve.add_argument("--port", type=int, default=None, help="override [hub] port")
    serve.set_defaults(handler=cmd_serve)

    dev = subparsers.add_parser(
        "dev", help="local Ignite node + hub with demo collections, dev auth and a metrics writer"
    )
    dev.add_argument(
        "--state-dir", default=str(DEFAULT_STATE_DIR), help="Ignite state dir (default %(default)s)"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--no-writer", action="store_true", help="do not update the metrics collection")
    dev.set_defaults(handler=cmd_dev)


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synchub", description="WebSocket sync hub for Apache Ignite 2.x")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_ignite(subparsers)
    _add_serve(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
