"""``examples/dispatcher.py``: a guard around the whole tree, and one around a single mount.

Werkzeug's Client runs the real ``DispatcherMiddleware``, which moves the
mount point from ``PATH_INFO`` to ``SCRIPT_NAME`` as any server mount would.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from werkzeug.test import Client

from wsgi_jwt_guard.dev.devissuer import DevIssuer


@pytest.fixture
def dispatcher(in_process_env: None) -> Iterator[ModuleType]:
    sys.modules.pop("examples.dispatcher", None)  # its guards are built on import
    yield importlib.import_module("examples.dispatcher")
    sys.modules.pop("examples.dispatcher", None)


@pytest.fixture
def token(dev_issuer: DevIssuer) -> str:
    return dev_issuer.mint("user:default/alice")


@pytest.mark.parametrize("tree", ["whole_tree", "one_mount"])
@pytest.mark.parametrize(
    ("path", "app", "script_name", "path_info"),
    [
        pytest.param("/api/catalog/items", "catalog", "/api/catalog", "/items", id="mounted"),
        pytest.param("/api/catalog", "catalog", "/api/catalog", "", id="mount-root"),
    ],
)
def test_mounted_app_is_guarded_in_both_trees(
    dispatcher: ModuleType,
    token: str,
    tree: str,
    path: str,
    app: str,
    script_name: str,
    path_info: str,
) -> None:
    client = Client(getattr(dispatcher, tree))
    assert client.get(path).status_code == 401
    response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {
        "app": app,
        "script_name": script_name,
        "path_info": path_info,
        "user": "user:default/alice",
    }


@pytest.mark.parametrize("tree", ["whole_tree", "one_mount"])
def test_mounted_path_that_looks_public_inside_the_mount_stays_protected(
    dispatcher: ModuleType, tree: str
) -> None:
    """Inside the mount PATH_INFO is "/health" -- the public route -- but the full path is not."""
    response = Client(getattr(dispatcher, tree)).get("/api/catalog/health")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("tree", "status"),
    [
        pytest.param("whole_tree", 401, id="whole-tree-guards-the-frontend"),
        pytest.param("one_mount", 200, id="one-mount-leaves-the-frontend-open"),
    ],
)
def test_frontend_is_guarded_only_by_the_whole_tree_guard(
    dispatcher: ModuleType, tree: str, status: int
) -> None:
    client = Client(getattr(dispatcher, tree))
    assert client.get("/").status_code == status
    assert client.get("/health").status_code == 200


def test_spoofed_remote_user_does_not_reach_the_mount(dispatcher: ModuleType) -> None:
    response = Client(dispatcher.one_mount).get(
        "/api/catalog/items", environ_overrides={"REMOTE_USER": "admin"}
    )
    assert response.status_code == 401
