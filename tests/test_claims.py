"""Claim checks: ``wsgi_jwt_guard.claims`` (DESIGN §2 step 4)."""

from __future__ import annotations

from typing import Any

import pytest

from wsgi_jwt_guard.claims import check_audience, check_subject, check_times
from wsgi_jwt_guard.errors import ExpiredToken, InvalidToken

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
