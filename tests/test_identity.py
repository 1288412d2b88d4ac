"""Identity and get_identity."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from wsgi_jwt_guard import ENVIRON_KEY, Identity, get_identity


def identity(**claims: object) -> Identity:
    return Identity(
        subject="user:default/alice",
        claims=MappingProxyType(dict(claims)),
        issuer="https://issuer.test",
        kind="user",
        source="header",
        expires_at=2e9,
        token="secret.token.value",
    )


@pytest.mark.parametrize(
    ("ent", "refs"),
    [
        pytest.param(["user:default/alice", "group:default/a"], ["user:default/alice", "group:default/a"],
                     id="list"),
        pytest.param(None, [], id="absent"),
        pytest.param("user:default/alice", [], id="not-a-list"),
        pytest.param(["group:default/a", 3, None], ["group:default/a"], id="non-strings-dropped"),
    ],
)
def test_ownership_refs(ent: object, refs: list[str]) -> None:
    assert identity(ent=ent).ownership_refs == refs


def test_repr_hides_the_token() -> None:
    assert "secret.token.value" not in repr(identity())


def test_get_identity() -> None:
    value = identity()
    assert get_identity({ENVIRON_KEY: value}) is value
    assert get_identity({}) is None
    assert get_identity({ENVIRON_KEY: {"subject": "forged"}}) is None


def test_identity_is_immutable() -> None:
    value = identity(role="reader")
    with pytest.raises(AttributeError):
        value.subject = "admin"  # type: ignore[misc]
    with pytest.raises(TypeError):
        value.claims["role"] = "admin"  # type: ignore[index]

