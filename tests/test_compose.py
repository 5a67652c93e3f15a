"""compose.yaml / Dockerfile / docker/ignite-config.xml: validated, not run (no Docker engine in CI)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.dev.cluster import IGNITE_VERSION

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
BEANS = "{http://www.springframework.org/schema/beans}"


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    assert exe is not None, "docker-compose is not installed (make setup installs Debian's docker-compose)"
    return exe


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    """compose.yaml as docker-compose resolves it (anchors/merges applied)."""
    res = subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE), "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    data = yaml.safe_load(res.stdout)
    assert isinstance(data, dict)
    return data


def test_compose_config_is_valid() -> None:
    res = subprocess.run(
        [_docker_compose(), "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_compose_services(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert {"ignite1", "ignite2", "hub1", "hub2", "lb"} <= set(services)
    for name in ("ignite1", "ignite2"):
        svc = services[name]
        image, _, tag = svc["image"].partition(":")
        assert image == "apacheignite/ignite"
        assert tag == IGNITE_VERSION
        assert svc["environment"]["CONFIG_URI"] == "/opt/synchub/ignite-config.xml"
        mount = "docker/ignite-config.xml:/opt/synchub/ignite-config.xml:ro"
        assert any(str(v).endswith(mount) for v in svc["volumes"])
        assert "ports" not in svc  # nodes are only reachable inside the compose network
    for name in ("hub1", "hub2"):
        svc = services[name]
        assert svc["build"]["dockerfile"] == "Dockerfile"
        assert svc["environment"]["SYNCHUB_IGNITE"] == "ignite1:10800,ignite2:10800"
        assert set(svc["depends_on"]) == {"ignite1", "ignite2"}
    lb = services["lb"]
    published = {(str(p["published"]), int(p["target"])) for p in lb["ports"]}
    assert published == {("8000", 8000)}
    assert set(lb["depends_on"]) == {"hub1", "hub2"}


def test_dockerfile() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "\nFROM python:3.11-slim\n" in text
    assert "pip install ." in text
    assert 'CMD ["synchub", "serve", "--config", "/etc/synchub/synchub.toml"]' in text


def test_docker_ignite_config() -> None:
    root = ET.parse(ROOT / "docker" / "ignite-config.xml").getroot()
    addresses = [v.text for v in root.iter(f"{BEANS}value") if v.text and v.text.endswith(":47500")]
    assert addresses == ["ignite1:47500", "ignite2:47500"]
    finders = [b for b in root.iter(f"{BEANS}bean") if b.get("class", "").endswith("TcpDiscoveryVmIpFinder")]
    assert len(finders) == 1


def test_nginx_upgrades_websockets() -> None:
    conf = (ROOT / "docker" / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "server hub1:8000" in conf and "server hub2:8000" in conf
    assert "listen 8000;" in conf
