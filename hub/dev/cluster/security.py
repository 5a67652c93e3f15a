"""Opt-in security of a local cluster: thin-client options with credentials and TLS, and the first-start
setup of an authenticating cluster (activate it, create the configured user)."""

from __future__ import annotations

import ssl

from hub.ignite.readiness import client_tls, handshake

from .errors import ClusterStartError

#: Ignite's built-in superuser (exists whenever authentication is enabled).
DEFAULT_SUPERUSER = ("ignite", "ignite")


def client_options(credentials: tuple[str, str] | None, *, tls: bool) -> dict[str, object]:
    """pyignite ``Client``/``AioClient`` options: ``credentials`` and TLS without certificate check."""
    out: dict[str, object] = {}
    if credentials is not None:
        out["username"], out["password"] = credentials
    if tls:
        out["use_ssl"] = True
        out["ssl_cert_reqs"] = ssl.CERT_NONE
    return out


def admin_credentials(
    name: str, address: tuple[str, int], authentication: tuple[str, str], *, tls: bool
) -> tuple[str, str]:
    """Credentials that log in now: the cluster's user once created, else the superuser."""
    host, port = address
    context = client_tls() if tls else None
    for creds in (authentication, DEFAULT_SUPERUSER):
        if handshake(host, port, probe=False, tls=context, credentials=creds):
            return creds
    raise ClusterStartError(
        f"cluster {name!r}: neither the configured user nor the default superuser can log in"
    )


def activate(
    addresses: list[tuple[str, int]], *, tls: bool, credentials: tuple[str, str] | None = None
) -> None:
    """Activate a persistent cluster: it starts INACTIVE the first time. Later starts of the whole
    baseline activate it by themselves; then this finds it active and does nothing."""
    from pyignite import Client  # type: ignore[import-untyped,unused-ignore]
    from pyignite.datatypes.cluster_state import (  # type: ignore[import-untyped,unused-ignore]
        ClusterState,
    )

    client = Client(timeout=30.0, **client_options(credentials, tls=tls))
    client.connect(addresses)
    try:
        cluster = client.get_cluster()
        if cluster.get_state() != ClusterState.ACTIVE:
            cluster.set_state(ClusterState.ACTIVE)
    finally:
        client.close()


def activate_and_create_user(
    name: str, addresses: list[tuple[str, int]], authentication: tuple[str, str], *, tls: bool
) -> None:
    """Activate a persistent cluster (it starts INACTIVE the first time) and create the user."""
    from pyignite import Client  # type: ignore[import-untyped,unused-ignore]

    user, password = authentication
    admin = admin_credentials(name, addresses[0], authentication, tls=tls)
    activate(addresses, tls=tls, credentials=admin)
    if admin == authentication:
        return
    client = Client(timeout=30.0, **client_options(admin, tls=tls))
    client.connect(addresses)
    try:
        quoted = user.replace('"', '""')
        pw = password.replace("'", "''")
        verb = "ALTER" if user == DEFAULT_SUPERUSER[0] else "CREATE"
        with client.sql(f"{verb} USER \"{quoted}\" WITH PASSWORD '{pw}'") as cur:
            list(cur)
    finally:
        client.close()
