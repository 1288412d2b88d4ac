"""The exceptions: ``wsgi_jwt_guard.errors``.

One root, two families: :class:`ConfigError` names the setting at fault, each
:class:`RequestRefused` carries the status, RFC 6750 code and Backstage name
its answer uses (``tests/test_responses.py`` checks the answers built from
them). That table is the contract: a subclass moving to another status or
name changes what clients see.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest

import wsgi_jwt_guard
from wsgi_jwt_guard import Issuer, JWTGuard, from_config
from wsgi_jwt_guard import errors as errors_module
from wsgi_jwt_guard.errors import (
    AuthenticationError,
    ConfigError,
    CrossSiteRequest,
    ExpiredToken,
    GuardError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MethodNotAllowed,
    MissingToken,
    PathTooLong,
    PreflightRefused,
    RequestRefused,
    RevokedToken,
    UnknownKey,
    UnsafePath,
)


@pytest.mark.parametrize(
    ("refusal", "status", "error", "name"),
    [
        pytest.param(MissingToken, 401, None, "AuthenticationError", id="missing-token"),
        pytest.param(InvalidRequest, 401, "invalid_request", "AuthenticationError", id="invalid-request"),
        pytest.param(InvalidToken, 401, "invalid_token", "AuthenticationError", id="invalid-token"),
        pytest.param(ExpiredToken, 401, "invalid_token", "AuthenticationError", id="expired"),
        pytest.param(RevokedToken, 401, "invalid_token", "AuthenticationError", id="revoked"),
        pytest.param(UnknownKey, 401, "invalid_token", "AuthenticationError", id="unknown-key"),
        pytest.param(InsufficientScope, 403, "insufficient_scope", "NotAllowedError", id="scope"),
        pytest.param(CrossSiteRequest, 403, None, "NotAllowedError", id="cross-site"),
        pytest.param(PreflightRefused, 403, None, "NotAllowedError", id="preflight"),
        pytest.param(UnsafePath, 400, None, "InputError", id="unsafe-path"),
        pytest.param(PathTooLong, 414, None, "InputError", id="path-too-long"),
        pytest.param(KeysUnavailable, 503, None, "ServiceUnavailableError", id="keys-unavailable"),
        pytest.param(MethodNotAllowed, 405, None, "MethodNotAllowedError", id="method-not-allowed"),
    ],
)
def test_each_refusal_carries_its_status_code_and_name(
    refusal: type[RequestRefused], status: int, error: str | None, name: str
) -> None:
    raised = refusal("why it was refused")
    assert (raised.status, raised.error, raised.name) == (status, error, name)
    assert raised.description == "why it was refused"
    assert str(raised) == "why it was refused"
    assert raised.token is None  # set by the guard, for the log line to describe
    assert isinstance(raised, RequestRefused)
    assert isinstance(raised, GuardError)


def test_token_refusals_are_authentication_errors_and_remember_their_source() -> None:
    for refusal in (InvalidToken, ExpiredToken, RevokedToken, UnknownKey):
        raised = refusal("bad", source="cookie")
        assert isinstance(raised, AuthenticationError)
        assert isinstance(raised, InvalidToken)  # a refused cookie holding it is cleared
        assert raised.source == "cookie"
    assert InvalidToken("bad").source is None
    assert not issubclass(InsufficientScope, AuthenticationError)  # valid token, wrong route


def test_insufficient_scope_may_name_the_scopes_a_client_should_ask_for() -> None:
    assert InsufficientScope("no").scope is None
    assert InsufficientScope("no", scope="a b").scope == "a b"


def test_method_not_allowed_says_which_are() -> None:
    assert MethodNotAllowed("no").allowed == ()
    assert MethodNotAllowed("no", allowed=("GET", "HEAD")).allowed == ("GET", "HEAD")


def test_keys_unavailable_says_when_to_retry() -> None:
    assert KeysUnavailable("down").retry_after == 30
    assert KeysUnavailable("down", retry_after=7).retry_after == 7


def test_config_error_names_the_key() -> None:
    error = ConfigError("issuers[0].algorithms", "expected a list of JWS algorithms")
    assert error.key == "issuers[0].algorithms"
    assert error.message == "expected a list of JWS algorithms"
    assert str(error) == "issuers[0].algorithms: expected a list of JWS algorithms"
    assert isinstance(error, GuardError)
    assert isinstance(error, ValueError)  # what code that validated by hand already catches


def test_config_error_without_a_key_is_just_its_message() -> None:
    assert str(ConfigError("", "no issuers and no service tokens")) == "no issuers and no service tokens"


@pytest.mark.parametrize(
    ("key", "prefix", "within"),
    [
        pytest.param("algorithms", "issuers[0]", "issuers[0].algorithms", id="nested"),
        pytest.param("", "csrf", "csrf", id="no-key"),
        pytest.param("max_age", "cookie", "cookie.max_age", id="table"),
    ],
)
def test_within_places_the_key_under_a_prefix(key: str, prefix: str, within: str) -> None:
    moved = ConfigError(key, "expected a number").within(prefix)
    assert isinstance(moved, ConfigError)
    assert moved.key == within
    assert moved.message == "expected a number"
    assert str(moved) == f"{within}: expected a number"


@pytest.mark.parametrize(
    ("build", "key"),
    [
        pytest.param(lambda: Issuer("https://a.test", keys=[], algorithms="ES256"), "algorithms", id="issuer"),
        pytest.param(
            lambda: from_config(lambda e, s: [], {"issuers": [{"issuer": "https://a.test", "keys": [], "algorithms": "ES256"}]}),
            "issuers[0].algorithms",
            id="from-config",
        ),
        pytest.param(lambda: JWTGuard(lambda e, s: [], issuers=[]), "issuers", id="guard"),
    ],
)
def test_what_users_build_raises_config_errors_naming_the_setting(build: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build()
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


def test_every_exception_lives_in_errors_and_is_listed() -> None:
    """One place for the exceptions: no module of the package defines its own."""
    found = set()
    for module_info in pkgutil.walk_packages(wsgi_jwt_guard.__path__, "wsgi_jwt_guard."):
        if module_info.name.startswith("wsgi_jwt_guard.adapters."):
            continue  # framework glue: importing it needs the framework configured
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, GuardError):
                assert value.__module__ == "wsgi_jwt_guard.errors", value
                found.add(value.__name__)
    assert found == set(errors_module.__all__)
