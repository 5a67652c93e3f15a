"""hub/app.py: which WebSocket scopes HubApp hands to the /sync endpoint directly."""

from __future__ import annotations

import pytest

from hub.app import route_path


@pytest.mark.parametrize(
    ("path", "root", "routed"),
    [
        ("/sync", "", "/sync"),
        ("/hub/sync", "/hub", "/sync"),  # behind a proxy that strips nothing
        ("/sync", "/hub", "/sync"),  # root_path set, path already relative
        ("/hubsync", "/hub", "/hubsync"),  # a prefix of the name is not the root
        ("/hub", "/hub", ""),
        ("/sync/", "", "/sync/"),  # not the route: Starlette's router answers it
    ],
)
def test_route_path_matches_what_the_router_matches(path: str, root: str, routed: str) -> None:
    assert route_path({"type": "websocket", "path": path, "root_path": root}) == routed
