"""The setting checks every settings object shares (wsgi_jwt_guard.validation).

Each check returns the value normalized or raises a ConfigError naming the key;
these tests pin the kinds of value each one takes and refuses, and that a
secret never appears in a message.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest

from wsgi_jwt_guard.errors import ConfigError
from wsgi_jwt_guard.validation import (
    MIN_SECRET_CHARACTERS,
    base64_secret,
    cookie_name,
    flag,
    header_key,
    names,
    no_unknown_keys,
    one_of,
    optional_instance,
    origins,
    scopes,
    seconds,
    secrets,
    strings,
    text,
    url,
    whole,
)

SECRET = "s" * MIN_SECRET_CHARACTERS


def refused(check: Any, *args: Any, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        check(*args, **kwargs)
    return raised.value


@pytest.mark.parametrize("value", ["false", 0, 1, None, "true"])
def test_a_flag_is_a_real_boolean(value: object) -> None:
    # A TOML typo like enabled = "false" is a truthy string: never taken for True.
    error = refused(flag, value, "cookie.enabled")
    assert error.key == "cookie.enabled"
    assert "true or false" in error.message


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0.0), (1.5, 1.5), (30, 30.0)], ids=["zero", "fraction", "whole"]
)
def test_seconds_take_finite_numbers(value: float, expected: float) -> None:
    assert seconds(value, "leeway") == expected


@pytest.mark.parametrize("value", [True, "5", math.nan, math.inf, -1, None])
def test_seconds_refuse_what_is_not_a_finite_count(value: object) -> None:
    assert refused(seconds, value, "leeway").key == "leeway"


def test_seconds_name_their_bounds() -> None:
    assert "from 1 to 10 seconds" in refused(seconds, 11, "wait", minimum=1, maximum=10).message


@pytest.mark.parametrize("value", [1.0, True, "3", -1])
def test_whole_numbers_are_ints_within_bounds(value: object) -> None:
    assert refused(whole, value, "max_token_size", minimum=0).key == "max_token_size"
    assert whole(7, "max_token_size") == 7


def test_text_and_strings() -> None:
    assert text("sub", "remote_user_claim") == "sub"
    assert refused(text, "", "remote_user_claim").key == "remote_user_claim"
    assert strings(["a", "b"], "audience") == ("a", "b")
    assert strings("a", "audience", allow_one=True) == ("a",)
    assert refused(strings, "a", "audience").key == "audience"  # a string is not a list
    assert refused(strings, ["a", ""], "audience").key == "audience"


def test_names_and_one_of() -> None:
    assert names(["get", "Post"], "methods", {"GET", "POST"}, upper=True) == frozenset({"GET", "POST"})
    assert refused(names, ["GET", "FETCH"], "methods", {"GET", "POST"}).key.startswith("methods")
    assert one_of("all", "set_for", ("browsers", "all", "none")) == "all"
    assert "browsers" in refused(one_of, "some", "set_for", ("browsers", "all", "none")).message


@pytest.mark.parametrize(
    "value", ["read", "orders:read", "api://app/.default", "https://x.test/a!#$&'()*+,/;<=>?@[]^_`{|}~"]
)
def test_a_scope_is_any_rfc_6749_scope_token(value: str) -> None:
    assert scopes([value], "scopes") == (value,)


@pytest.mark.parametrize(
    "value", ["a b", " a", 'a"b', "a\\b", "caf\u00e9", "a\tb", "a\x7f", ""], ids=repr
)
def test_a_scope_holds_nothing_a_quoted_string_must_escape(value: str) -> None:
    """RFC 6749 §3.3: no space (it separates scopes), quote, backslash, control or non-ASCII."""
    assert refused(scopes, ["ok", value], "scopes").key == "scopes"


@pytest.mark.parametrize(
    "value",
    ["https://a.test", "https://a.test:8443/x?y=1#z", "http://localhost:8000/x", "http://127.0.0.1/", "http://[::1]/"],
)
def test_a_url_is_https_or_local_http(value: str) -> None:
    assert url(value, "documentation") == value


@pytest.mark.parametrize(
    "value",
    [
        "a.test/x", "//a.test/x", "ftp://a.test", "http://a.test", "https://", "https://a.test:99999",
        "https://u:p@a.test", 'https://a.test/"', "https://a.test/\\", "https://a.test/ x", "https://a.test/\u00e9",
        None, 42,
    ],
    ids=repr,
)
def test_a_url_refuses_what_a_client_should_not_be_sent_to(value: object) -> None:
    assert refused(url, value, "documentation").key == "documentation"


def test_an_optional_instance() -> None:
    assert optional_instance(None, "cors", int) is None
    assert optional_instance(3, "cors", int) == 3
    assert refused(optional_instance, "3", "cors", int).key == "cors"


def test_cookie_and_header_names() -> None:
    assert cookie_name("__Host-token", "cookie.name") == "__Host-token"
    for bad in ("to ken", "token;", "", "tøken"):
        assert refused(cookie_name, bad, "cookie.name").key == "cookie.name"
    assert header_key("X-Goog-IAP-JWT-Assertion", "token_headers[0]") == (
        "HTTP_X_GOOG_IAP_JWT_ASSERTION"
    )
    # An underscore would let a client spell the header two ways through some servers.
    assert refused(header_key, "X_Token", "token_headers[0]").key == "token_headers[0]"


def test_origins_are_normalized() -> None:
    assert origins(["HTTPS://App.Example.COM:443"], "cors.origins") == frozenset(
        {"https://app.example.com"}
    )
    assert origins(["*"], "cors.origins", wildcard=True) == frozenset({"*"})
    assert refused(origins, ["*"], "cors.origins").key == "cors.origins[0]"
    assert refused(origins, ["https://a.test/path"], "cors.origins").key == "cors.origins[0]"
    assert refused(origins, ["null"], "cors.origins").key == "cors.origins[0]"


def test_secrets_name_the_entry_and_never_the_secret() -> None:
    assert secrets([SECRET, SECRET + "x"], "secrets") == (SECRET, SECRET + "x")
    assert secrets([], "cache.secrets", allow_empty=True) == ()
    assert "non-empty" in refused(secrets, [], "secrets").message
    assert refused(secrets, SECRET, "secrets").key == "secrets"  # one string is not a list
    short = "short-but-secret"
    error = refused(secrets, [SECRET, short], "cache.secrets")
    assert error.key == "cache.secrets[1]"
    assert short not in str(error)


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param(base64.b64encode(bytes(range(24))).decode(), id="standard"),
        pytest.param(base64.urlsafe_b64encode(bytes(range(200, 224))).decode(), id="url-safe"),
        pytest.param(base64.urlsafe_b64encode(bytes(range(25))).decode().rstrip("="), id="unpadded"),
    ],
)
def test_base64_secrets_decode_in_every_spelling(spelling: str) -> None:
    decoded = base64_secret(spelling, "secrets[0]")
    assert base64.urlsafe_b64encode(decoded).decode().rstrip("=") == spelling.rstrip("=").replace(
        "+", "-"
    ).replace("/", "_")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("A" * 40 + "===", id="too-much-padding"),
        pytest.param("A" * 31, id="too-short"),
        pytest.param("A" * 40 + "!", id="not-base64"),
        pytest.param(b"A" * 40, id="bytes"),
    ],
)
def test_bad_base64_secrets_are_refused_without_echo(value: object) -> None:
    error = refused(base64_secret, value, "WSGI_JWT_GUARD_SERVICE_SECRET")
    assert error.key == "WSGI_JWT_GUARD_SERVICE_SECRET"
    assert str(value) not in str(error)


def test_unknown_keys_suggest_the_likely_one() -> None:
    no_unknown_keys({"audience": 1}, {"audience", "issuer"}, "issuers[0]")
    error = refused(no_unknown_keys, {"audiance": 1}, {"audience", "issuer"}, "issuers[0]")
    assert error.key == "issuers[0].audiance"
    assert "did you mean 'audience'?" in error.message
    error = refused(no_unknown_keys, {"zzz": 1}, {"url"}, "cache", "unknown for type 'redis'")
    assert error.key == "cache.zzz"
    assert error.message == "unknown for type 'redis'; expected one of ['url']"
