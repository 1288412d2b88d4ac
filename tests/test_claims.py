"""Claim checks: ``wsgi_jwt_guard.claims`` (DESIGN §2 step 4)."""

from __future__ import annotations

from typing import Any

import pytest

from wsgi_jwt_guard.claims import (
    ClaimRequirement,
    check_audience,
    check_subject,
    check_times,
    claim_at,
    claim_path,
    claim_requirements,
    granted_scopes,
    has_claim,
)
from wsgi_jwt_guard.errors import ConfigError, ExpiredToken, InvalidToken

NOW = 1_700_000_000.0


# --- check_times -----------------------------------------------------------


def test_exp_is_returned() -> None:
    assert check_times({"exp": NOW + 60}, now=NOW, leeway=0) == NOW + 60


def test_float_exp_is_accepted() -> None:
    assert check_times({"exp": NOW + 0.5}, now=NOW, leeway=0) == NOW + 0.5


def test_exp_is_required() -> None:
    with pytest.raises(InvalidToken, match="no 'exp'") as excinfo:
        check_times({"iat": NOW, "nbf": NOW}, now=NOW, leeway=0)
    assert not isinstance(excinfo.value, ExpiredToken)


NOT_NUMBERS = [
    pytest.param(str(int(NOW + 60)), id="string"),
    pytest.param("1e20", id="numeric-string"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(None, id="null"),
    pytest.param([NOW + 60], id="list"),
    pytest.param({"value": NOW + 60}, id="dict"),
]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_exp_must_be_a_number(value: Any) -> None:
    with pytest.raises(InvalidToken, match="'exp' claim is not a number"):
        check_times({"exp": value}, now=NOW, leeway=0)


@pytest.mark.parametrize("name", ["nbf", "iat"])
@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_nbf_and_iat_must_be_numbers(name: str, value: Any) -> None:
    with pytest.raises(InvalidToken, match=f"'{name}' claim is not a number"):
        check_times({"exp": NOW + 60, name: value}, now=NOW, leeway=0)


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": float("nan")}, id="exp-nan"),
        pytest.param({"exp": float("inf")}, id="exp-infinity"),
        pytest.param({"exp": NOW + 60, "nbf": float("nan")}, id="nbf-nan"),
        pytest.param({"exp": NOW + 60, "iat": float("nan")}, id="iat-nan"),
    ],
)
def test_times_must_be_finite(claims: dict[str, float]) -> None:
    # jws.parse already refuses these, but the check must fail closed on its own:
    # NaN compares false with everything, so it would never expire nor be "in the future".
    with pytest.raises(InvalidToken):
        check_times(claims, now=NOW, leeway=0)


@pytest.mark.parametrize(
    ("exp", "leeway"),
    [
        pytest.param(NOW - 3600, 0, id="an-hour-ago"),
        pytest.param(NOW - 1, 0, id="a-second-ago"),
        pytest.param(NOW, 0, id="exactly-now"),
        pytest.param(NOW - 0.001, 0, id="a-millisecond-ago"),
        pytest.param(NOW - 31, 30, id="beyond-leeway"),
        pytest.param(NOW - 30, 30, id="at-leeway"),
        pytest.param(0, 0, id="epoch"),
        pytest.param(-1, 0, id="negative"),
    ],
)
def test_expired(exp: float, leeway: float) -> None:
    with pytest.raises(ExpiredToken, match="expired"):
        check_times({"exp": exp}, now=NOW, leeway=leeway)


@pytest.mark.parametrize(
    ("exp", "leeway"),
    [
        pytest.param(NOW + 1, 0, id="a-second-left"),
        pytest.param(NOW - 10, 30, id="expired-within-leeway"),
        pytest.param(NOW - 29.5, 30, id="expired-just-within-leeway"),
    ],
)
def test_not_expired(exp: float, leeway: float) -> None:
    assert check_times({"exp": exp}, now=NOW, leeway=leeway) == exp


@pytest.mark.parametrize("name", ["nbf", "iat"])
@pytest.mark.parametrize(
    ("offset", "leeway"),
    [
        pytest.param(1, 0, id="a-second-ahead"),
        pytest.param(3600, 0, id="an-hour-ahead"),
        pytest.param(31, 30, id="beyond-leeway"),
    ],
)
def test_future_nbf_and_iat_are_refused(name: str, offset: float, leeway: float) -> None:
    claims = {"exp": NOW + 7200, name: NOW + offset}
    with pytest.raises(InvalidToken, match=name) as excinfo:
        check_times(claims, now=NOW, leeway=leeway)
    assert not isinstance(excinfo.value, ExpiredToken)


@pytest.mark.parametrize("name", ["nbf", "iat"])
@pytest.mark.parametrize(
    ("offset", "leeway"),
    [
        pytest.param(0, 0, id="now"),
        pytest.param(-3600, 0, id="an-hour-ago"),
        pytest.param(10, 30, id="ahead-within-leeway"),
        pytest.param(30, 30, id="at-leeway"),
        pytest.param(0.5, 1, id="float-within-leeway"),
    ],
)
def test_past_or_tolerated_nbf_and_iat_are_accepted(
    name: str, offset: float, leeway: float
) -> None:
    claims = {"exp": NOW + 7200, name: NOW + offset}
    assert check_times(claims, now=NOW, leeway=leeway) == NOW + 7200


@pytest.mark.parametrize("name", ["nbf", "iat"])
@pytest.mark.parametrize(
    ("now", "value", "accepted"),
    [
        pytest.param(NOW + 0.25, NOW + 1, True, id="the-next-second-begun-on-a-clock-ahead"),
        pytest.param(NOW + 0.999, NOW + 1, True, id="a-millisecond-ahead"),
        pytest.param(NOW + 0.25, NOW + 1.5, False, id="past-the-current-second"),
        pytest.param(NOW + 0.25, NOW + 2, False, id="two-seconds-on"),
        pytest.param(NOW, NOW + 1, False, id="a-whole-second-ahead"),
    ],
)
def test_nbf_and_iat_are_compared_with_the_current_second(
    name: str, now: float, value: float, accepted: bool
) -> None:
    """JWT times are whole seconds, truncated by the issuer: a token minted just
    after a second began, by a clock a few milliseconds ahead of ours, says it was
    issued in a second that has not begun here. Compared with the current time
    rounded up to a whole second, it is not from the future; more than that is."""
    claims = {"exp": NOW + 7200, name: value}
    if accepted:
        assert check_times(claims, now=now, leeway=0) == NOW + 7200
    else:
        with pytest.raises(InvalidToken, match=name):
            check_times(claims, now=now, leeway=0)


def test_all_three_times_together() -> None:
    claims = {"exp": NOW + 60, "nbf": NOW - 60, "iat": NOW - 60}
    assert check_times(claims, now=NOW, leeway=0) == NOW + 60


# --- check_subject ---------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="missing"),
        pytest.param({"sub": ""}, id="empty"),
        pytest.param({"sub": None}, id="null"),
        pytest.param({"sub": 42}, id="number"),
        pytest.param({"sub": True}, id="bool"),
        pytest.param({"sub": ["user:default/alice"]}, id="list"),
        pytest.param({"sub": {"name": "alice"}}, id="object"),
        pytest.param({"sub": "alice\nREMOTE_USER: admin"}, id="newline"),
        pytest.param({"sub": "alice\r"}, id="carriage-return"),
        pytest.param({"sub": "alice\x00admin"}, id="nul"),
        pytest.param({"sub": "\x1b[31malice"}, id="escape"),
        pytest.param({"sub": "alice\x7f"}, id="delete"),
        pytest.param({"sub": "alice\t"}, id="tab"),
    ],
)
def test_bad_subject_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken, match="'sub'"):
        check_subject(claims)


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("user:default/alice", id="entity-ref"),
        pytest.param("alice@example.com", id="email"),
        pytest.param("Ålice Ünicode", id="unicode-with-space"),
        pytest.param("0", id="zero-string"),
    ],
)
def test_good_subject_is_returned(subject: str) -> None:
    assert check_subject({"sub": subject}) == subject


def test_subject_from_another_claim() -> None:
    claims = {"sub": "user:default/alice", "email": "alice@example.com"}
    assert check_subject(claims, "email") == "alice@example.com"
    with pytest.raises(InvalidToken, match="'upn'"):
        check_subject(claims, "upn")


# --- check_audience --------------------------------------------------------

ACCEPTED = ("backstage", "catalog")


@pytest.mark.parametrize(
    "aud",
    [
        pytest.param("backstage", id="string"),
        pytest.param("catalog", id="second-accepted"),
        pytest.param(["backstage"], id="list-of-one"),
        pytest.param(["other", "catalog"], id="list-one-matches"),
    ],
)
def test_audience_accepted(aud: Any) -> None:
    assert check_audience({"aud": aud}, ACCEPTED) is None


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        pytest.param({}, "missing or malformed", id="missing"),
        pytest.param({"aud": None}, "missing or malformed", id="null"),
        pytest.param({"aud": []}, "missing or malformed", id="empty-list"),
        pytest.param({"aud": ["backstage", 1]}, "missing or malformed", id="list-with-number"),
        pytest.param({"aud": [None]}, "missing or malformed", id="list-with-null"),
        pytest.param({"aud": [["backstage"]]}, "missing or malformed", id="nested-list"),
        pytest.param({"aud": 1}, "missing or malformed", id="number"),
        pytest.param({"aud": {"backstage": True}}, "missing or malformed", id="object"),
        pytest.param({"aud": "other"}, "audience", id="other"),
        pytest.param({"aud": "Backstage"}, "audience", id="wrong-case"),
        pytest.param({"aud": "backstage "}, "audience", id="trailing-space"),
        pytest.param({"aud": ""}, "audience", id="empty-string"),
        pytest.param({"aud": ["other", "BACKSTAGE"]}, "audience", id="list-wrong-case"),
        pytest.param({"aud": "backstage catalog"}, "audience", id="space-separated"),
    ],
)
def test_audience_refused(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        check_audience(claims, ACCEPTED)


# --- claim paths, requirements and scopes ------------------------------------------------


@pytest.mark.parametrize(
    ("written", "segments"),
    [
        pytest.param("roles", ("roles",), id="top-level"),
        pytest.param("realm_access.roles", ("realm_access", "roles"), id="keycloak-realm"),
        pytest.param(
            "resource_access.my-client.roles",
            ("resource_access", "my-client", "roles"),
            id="keycloak-client",
        ),
        pytest.param(
            'resource_access."my.client".roles',
            ("resource_access", "my.client", "roles"),
            id="quoted-dotted-segment",
        ),
        pytest.param('"roles"', ("roles",), id="quoted-plain"),
        pytest.param("https://example.com/roles", ("https://example.com/roles",), id="url-whole"),
        pytest.param(
            '"https://example.com/roles"', ("https://example.com/roles",), id="url-quoted"
        ),
        pytest.param(
            '"https://example.com/app".roles', ("https://example.com/app", "roles"), id="into-url"
        ),
    ],
)
def test_claim_paths_split_into_segments(written: str, segments: tuple[str, ...]) -> None:
    assert claim_path(written, "claims") == segments


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("", id="empty"),
        pytest.param("a..b", id="empty-segment"),
        pytest.param(".a", id="leading-dot"),
        pytest.param("a.", id="trailing-dot"),
        pytest.param('"a', id="unclosed-quote"),
        pytest.param('a"b', id="quote-inside"),
        pytest.param('"a"b', id="text-after-quote"),
        pytest.param('""', id="empty-quoted"),
        pytest.param('"a".', id="trailing-dot-after-quote"),
        pytest.param(None, id="not-a-string"),
    ],
)
def test_bad_claim_paths_name_the_key(written: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        claim_path(written, "claims.'x'")
    assert caught.value.key == "claims.'x'"


NESTED = {
    "realm_access": {"roles": ["admin", "user"]},
    "resource_access": {"my.client": {"roles": ["editor"]}, "api": {"roles": "viewer"}},
    "https://example.com/roles": ["auditor"],
    "empty": None,
    "list": [{"roles": ["x"]}],
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param(("realm_access", "roles"), ["admin", "user"], id="nested"),
        pytest.param(("realm_access", "nope"), None, id="missing-leaf"),
        pytest.param(("nope", "roles"), None, id="missing-parent"),
        pytest.param(("realm_access", "roles", "x"), None, id="through-a-list"),
        pytest.param(("list", "roles"), None, id="lists-are-not-walked"),
        pytest.param(("https://example.com/roles",), ["auditor"], id="url-name"),
    ],
)
def test_claim_at(path: tuple[str, ...], value: Any) -> None:
    assert claim_at(NESTED, path) == value


def test_has_claim_counts_null_as_present() -> None:
    assert has_claim(NESTED, ("empty",))
    assert has_claim(NESTED, ("resource_access", "api"))
    assert not has_claim(NESTED, ("resource_access", "web"))
    assert not has_claim(NESTED, ("empty", "x"))


@pytest.mark.parametrize(
    ("key", "wanted", "met"),
    [
        pytest.param("realm_access.roles", "admin", True, id="in-nested-list"),
        pytest.param("realm_access.roles", ["admin", "user"], True, id="all-of"),
        pytest.param("realm_access.roles", ["admin", "root"], False, id="all-of-one-missing"),
        pytest.param("realm_access.roles", {"any": ["root", "user"]}, True, id="any-of"),
        pytest.param("realm_access.roles", {"any": ["root", "x"]}, False, id="any-of-none"),
        pytest.param("realm_access.roles", {"all": ["admin", "user"]}, True, id="all-form"),
        pytest.param('resource_access."my.client".roles', "editor", True, id="quoted"),
        pytest.param("resource_access.my.client.roles", "editor", False, id="unquoted-dots"),
        pytest.param("resource_access.api.roles", "viewer", True, id="nested-string"),
        pytest.param("resource_access.api.roles", "view", False, id="not-a-substring"),
        pytest.param("https://example.com/roles", "auditor", True, id="url-claim"),
        pytest.param("realm_access", "admin", False, id="object-is-not-a-value"),
        pytest.param("empty", "x", False, id="null"),
        pytest.param("missing", {"any": ["x"]}, False, id="missing-any"),
    ],
)
def test_claim_requirements(key: str, wanted: Any, met: bool) -> None:
    assert ClaimRequirement(key, wanted, "claims").met_by(NESTED) is met


@pytest.mark.parametrize(
    ("table", "key"),
    [
        pytest.param(["admin"], "claims", id="not-a-table"),
        pytest.param({1: "x"}, "claims", id="key-not-a-string"),
        pytest.param({"a..b": "x"}, "claims.'a..b'", id="bad-path"),
        pytest.param({"roles": {"one": ["x"]}}, "claims.'roles'", id="unknown-form"),
        pytest.param({"roles": {"any": ["x"], "all": ["y"]}}, "claims.'roles'", id="two-forms"),
        pytest.param({"roles": {"any": []}}, "claims.'roles'", id="empty-any"),
        pytest.param({"roles": {"any": "x"}}, "claims.'roles'", id="any-not-a-list"),
        pytest.param({"roles": [{"x": 1}]}, "claims.'roles'", id="object-value"),
        pytest.param({"roles": None}, "claims.'roles'", id="null-value"),
    ],
)
def test_claim_table_mistakes_name_the_key(table: Any, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        claim_requirements(table, "claims")
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        pytest.param(
            {"scope": "openid profile  email"}, {"openid", "profile", "email"}, id="scope"
        ),
        pytest.param({"scp": "User.Read Files.Read"}, {"User.Read", "Files.Read"}, id="scp-string"),
        pytest.param({"scp": ["a", "b", 3, ""]}, {"a", "b"}, id="scp-list"),
        pytest.param({"permissions": ["read:x"]}, {"read:x"}, id="permissions"),
        pytest.param(
            {"scope": "a", "scp": ["b"], "permissions": ["c"]}, {"a", "b", "c"}, id="union"
        ),
        pytest.param({"scope": 5, "permissions": {"a": 1}}, set(), id="other-shapes-ignored"),
    ],
)
def test_granted_scopes(claims: dict[str, Any], scopes: set[str]) -> None:
    assert granted_scopes(claims) == scopes


def test_granted_scopes_from_named_claims() -> None:
    claims = {"scope": "a", "permissions": ["b"], "ext": {"perms": "c d"}}
    assert granted_scopes(claims, (("permissions",), ("ext", "perms"))) == {"b", "c", "d"}
