"""The guard's own answers: RFC 6750 challenges, Backstage JSON, problem+json, 503."""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import create_environ

from wsgi_jwt_guard import (
    ExpiredToken,
    InsufficientScope,
    InvalidDPoPProof,
    InvalidRequest,
    KeysUnavailable,
    MethodNotAllowed,
    MissingToken,
    RequestRefused,
    UnsafePath,
    UseDPoPNonce,
)
from wsgi_jwt_guard.responses import Challenges, challenge, refuse


def answer(
    refusal: RequestRefused, resource_metadata: str | None = None, **environ: Any
) -> tuple[str, dict[str, str], bytes]:
    captured: list[Any] = []
    body = refuse(
        refusal,
        create_environ("/api/x", **environ),
        lambda status, headers, exc_info=None: captured.append((status, dict(headers))),
        realm="api",
        resource_metadata=resource_metadata,
    )
    status, headers = captured[0]
    return status, headers, b"".join(body)


@pytest.mark.parametrize(
    ("refusal", "status", "name", "www_authenticate"),
    [
        pytest.param(MissingToken("no token"), "401 Unauthorized", "AuthenticationError",
                     'Bearer realm="api"', id="missing-token-has-no-error"),
        pytest.param(ExpiredToken("the token has expired"), "401 Unauthorized", "AuthenticationError",
                     'Bearer realm="api", error="invalid_token", error_description="the token has expired"',
                     id="invalid-token"),
        pytest.param(InvalidRequest("bad header"), "401 Unauthorized", "AuthenticationError",
                     'Bearer realm="api", error="invalid_request", error_description="bad header"',
                     id="invalid-request"),
        pytest.param(InsufficientScope("needs admin"), "403 Forbidden", "NotAllowedError",
                     'Bearer realm="api", error="insufficient_scope", error_description="needs admin"',
                     id="insufficient-scope"),
        pytest.param(InsufficientScope("needs admin", scope="admin orders.read"), "403 Forbidden", "NotAllowedError",
                     'Bearer realm="api", error="insufficient_scope", error_description="needs admin", scope="admin orders.read"',
                     id="insufficient-scope-names-the-scopes"),
        pytest.param(UnsafePath("dot segment"), "400 Bad Request", "InputError", None, id="unsafe-path"),
        pytest.param(MethodNotAllowed("read it", allowed=("GET", "HEAD")), "405 Method Not Allowed",
                     "MethodNotAllowedError", None, id="method-not-allowed"),
        pytest.param(KeysUnavailable("no keys", retry_after=7), "503 Service Unavailable",
                     "ServiceUnavailableError", None, id="keys-unavailable"),
    ],
)
def test_status_body_and_challenge(
    refusal: RequestRefused, status: str, name: str, www_authenticate: str | None
) -> None:
    got_status, headers, body = answer(refusal)
    assert got_status == status
    assert headers.get("WWW-Authenticate") == www_authenticate
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert int(headers["Content-Length"]) == len(body)
    assert json.loads(body) == {
        "error": {"name": name, "message": refusal.description},
        "response": {"statusCode": int(status[:3])},
    }


def test_503_carries_retry_after() -> None:
    _, headers, _ = answer(KeysUnavailable("no keys", retry_after=7))
    assert headers["Retry-After"] == "7"


def test_problem_json_when_asked_for() -> None:
    _, headers, body = answer(
        ExpiredToken("the token has expired"), headers={"Accept": "application/problem+json"}
    )
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body) == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "the token has expired",
    }


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        pytest.param(None, "application/json", id="none"),
        pytest.param("*/*", "application/json", id="anything"),
        pytest.param("application/*", "application/json", id="any-application"),
        pytest.param("application/json", "application/json", id="json"),
        pytest.param("application/problem+json", "application/problem+json", id="problem"),
        # A substring test got these wrong: q=0 means "not acceptable" (RFC 9110 §12.4.2).
        pytest.param(
            "application/json, application/problem+json;q=0", "application/json", id="problem-q0"
        ),
        pytest.param(
            "application/problem+json;q=0.5, application/json", "application/json", id="json-preferred"
        ),
        pytest.param(
            "application/json;q=0.5, application/problem+json", "application/problem+json", id="problem-preferred"
        ),
        # Named explicitly, problem details win a tie with JSON.
        pytest.param(
            "application/json, application/problem+json", "application/problem+json", id="tie"
        ),
        pytest.param("*/*;q=0.1, application/problem+json", "application/problem+json", id="with-wildcard"),
        pytest.param("text/html, application/xhtml+xml", "application/json", id="browser"),
    ],
)
def test_the_accept_header_is_parsed_with_qualities(accept: str | None, content_type: str) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    _, sent, _ = answer(ExpiredToken("the token has expired"), headers=headers)
    assert sent["Content-Type"] == content_type


def test_challenge_never_carries_quotes_or_backslashes() -> None:
    value = challenge(ExpiredToken('say "hi" \\ bye\n'), 'my "realm"')
    assert value == 'Bearer realm="my realm", error="invalid_token", error_description="say hi  bye"'


def test_405_carries_allow() -> None:
    _, headers, _ = answer(MethodNotAllowed("read it", allowed=("GET", "HEAD")))
    assert headers["Allow"] == "GET, HEAD"


METADATA = "https://api.example.com/.well-known/oauth-protected-resource/v1"


@pytest.mark.parametrize(
    ("refusal", "www_authenticate"),
    [
        pytest.param(MissingToken("no token"), f'Bearer realm="api", resource_metadata="{METADATA}"',
                     id="missing-token"),
        pytest.param(ExpiredToken("expired"),
                     f'Bearer realm="api", resource_metadata="{METADATA}", error="invalid_token", error_description="expired"',
                     id="invalid-token"),
        pytest.param(InsufficientScope("needs a scope", scope="a b"),
                     f'Bearer realm="api", resource_metadata="{METADATA}", error="insufficient_scope", error_description="needs a scope", scope="a b"',
                     id="insufficient-scope"),
        pytest.param(UnsafePath("dot segment"), None, id="no-challenge-no-metadata"),
        pytest.param(KeysUnavailable("no keys"), None, id="503-no-challenge"),
    ],
)
def test_challenges_name_the_resource_metadata(refusal: RequestRefused, www_authenticate: str | None) -> None:
    """RFC 9728 §5.1: every challenge points the client to the metadata document."""
    _, headers, _ = answer(refusal, resource_metadata=METADATA)
    assert headers.get("WWW-Authenticate") == www_authenticate


def test_scope_and_metadata_are_quoted_string_safe() -> None:
    """Settings refuse them (RFC 6749 §3.3 scope-token), and the challenge drops any that
    reach it another way: a `"` or `\\` can never end the quoted-string early."""
    value = challenge(InsufficientScope("x", scope='a"b c\\d'), "api", 'https://h/"x\\')
    assert value == (
        'Bearer realm="api", resource_metadata="https://h/x", error="insufficient_scope",'
        ' error_description="x", scope="ab cd"'
    )


# -- DPoP beside Bearer (RFC 9449 §7.1, §7.2) --------------------------------------------

BOTH = Challenges(bearer=True, dpop_algs="ES256 PS256")
DPOP_ONLY = Challenges(bearer=False, dpop_algs="ES256")


@pytest.mark.parametrize(
    ("refusal", "offered", "expected"),
    [
        pytest.param(MissingToken("x"), None, 'Bearer realm="api"', id="bearer-alone"),
        pytest.param(
            MissingToken("x"), BOTH, 'Bearer realm="api", DPoP realm="api", algs="ES256 PS256"', id="no-token-both"
        ),
        pytest.param(MissingToken("x"), DPOP_ONLY, 'DPoP realm="api", algs="ES256"', id="no-token-dpop-only"),
        pytest.param(
            ExpiredToken("gone"),
            BOTH,
            'Bearer realm="api", error="invalid_token", error_description="gone"',
            id="bearer-request-error-on-bearer",
        ),
        pytest.param(
            ExpiredToken("gone"),
            Challenges(True, "ES256", dpop_request=True),
            'DPoP realm="api", error="invalid_token", error_description="gone", algs="ES256"',
            id="dpop-request-error-on-dpop",
        ),
        pytest.param(
            InvalidDPoPProof("replayed"),
            BOTH,
            'DPoP realm="api", error="invalid_dpop_proof", error_description="replayed", algs="ES256 PS256"',
            id="proof-error-on-dpop",
        ),
        pytest.param(
            ExpiredToken("gone"),
            DPOP_ONLY,
            'DPoP realm="api", error="invalid_token", error_description="gone", algs="ES256"',
            id="bearer-not-accepted-error-on-dpop",
        ),
        pytest.param(
            InsufficientScope("no"),
            Challenges(False, "", dpop_request=True),
            'DPoP realm="api", error="insufficient_scope", error_description="no"',
            id="without-algs",
        ),
        pytest.param(MissingToken("x"), Challenges(False, None), 'Bearer realm="api"', id="nothing-accepted-still-bearer"),
    ],
)
def test_challenges_name_the_accepted_schemes(
    refusal: RequestRefused, offered: Challenges | None, expected: str
) -> None:
    refusal.challenges = offered
    assert challenge(refusal, "api") == expected


def test_use_dpop_nonce_sends_the_nonce() -> None:
    refusal = UseDPoPNonce("send the nonce", nonce="n-1")
    refusal.challenges = BOTH
    status, sent, _ = answer(refusal)
    assert status.startswith("401")
    assert sent["DPoP-Nonce"] == "n-1"
    assert sent["WWW-Authenticate"].startswith('DPoP realm="api", error="use_dpop_nonce"')
