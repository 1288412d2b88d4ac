"""Strict compact JWS parsing: ``wsgi_jwt_guard.jws`` (DESIGN §2 step 4)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.helpers import SigningKey, b64url, b64url_json
from wsgi_jwt_guard.errors import InvalidToken
from wsgi_jwt_guard.jws import b64url_decode, b64url_encode, parse, parse_unverified

HEADER = {"alg": "ES256", "typ": "JWT", "kid": "ec-1"}
CLAIMS = {"iss": "https://auth.example.test", "sub": "user:default/alice", "exp": 2_000_000_000}
SIG = b64url(b"\x01" * 64)


def token(header: Any = HEADER, payload: Any = CLAIMS, signature: str = SIG) -> str:
    """A token with arbitrary (bytes = raw JSON text) header and payload; not signed."""
    return f"{b64url_json(header)}.{b64url_json(payload)}.{signature}"


def raw(text: str) -> bytes:
    return text.encode("utf-8")


H = b64url_json(HEADER)
P = b64url_json(CLAIMS)


# --- shape -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(f"{H}.{P}", id="two-segments"),
        pytest.param(f"{H}.{P}.{SIG}.{SIG}", id="four-segments"),
        pytest.param(f"{H}.{P}.{SIG}.{SIG}.{SIG}", id="five-segments-jwe"),
        pytest.param(f"{H}", id="one-segment"),
        pytest.param("", id="empty-string"),
        pytest.param("..", id="only-dots"),
        pytest.param(f".{P}.{SIG}", id="empty-header"),
        pytest.param(f"{H}..{SIG}", id="empty-payload"),
        pytest.param(f"{H}.{P}.", id="empty-signature"),
        pytest.param(f"{b64url_json({'alg': 'none'})}.{P}.", id="alg-none-with-empty-signature"),
        pytest.param(f"{H}=.{P}.{SIG}", id="padding-in-header"),
        pytest.param(f"{H}.{P}==.{SIG}", id="padding-in-payload"),
        pytest.param(f"{H}.{P}.{SIG}=", id="padding-in-signature"),
        pytest.param(f"{H}.{P}.{SIG[:-2]}+/", id="standard-alphabet-in-signature"),
        pytest.param(f"{H[:4]}+{H[4:]}.{P}.{SIG}", id="plus-in-header"),
        pytest.param(f"{H}.{P[:4]}/{P[4:]}.{SIG}", id="slash-in-payload"),
        pytest.param(f"{H[:4]} {H[4:]}.{P}.{SIG}", id="space-in-header"),
        pytest.param(f"{H}.{P[:8]}\n{P[8:]}.{SIG}", id="newline-in-payload"),
        pytest.param(f"{H}.{P}.{SIG}\n", id="trailing-newline"),
        pytest.param(f" {H}.{P}.{SIG}", id="leading-space"),
        pytest.param(f"{H}.{P}.{SIG[:10]}\t{SIG[10:]}", id="tab-in-signature"),
        pytest.param(f"{H}.{P}.{SIG[:10]}*{SIG[10:]}", id="junk-in-signature"),
        pytest.param(f"{H}.{P}.{SIG[:10]}~{SIG[10:]}", id="tilde-in-signature"),
        pytest.param(f"{H}.{P}é.{SIG}", id="non-ascii-in-payload"),
        pytest.param(f"{H}.{P}.{SIG}\u2024", id="one-dot-leader"),
        pytest.param(f"{H}\uff0e{P}.{SIG}", id="fullwidth-dot"),
        pytest.param(f"{H}.{P}.{SIG[:-1]}", id="signature-length-mod-4-is-1"),
    ],
)
def test_malformed_shape_is_refused(value: str) -> None:
    with pytest.raises(InvalidToken):
        parse(value)


# --- JSON ------------------------------------------------------------------

# Each table entry is placed once in the header (with a valid payload) and
# once in the payload (with a valid header).
BAD_JSON = [
    pytest.param(["ES256"], id="array"),
    pytest.param("ES256", id="string"),
    pytest.param(256, id="number"),
    pytest.param(None, id="null"),
    pytest.param(True, id="true"),
    pytest.param(b"\xff\xfe\x00{}", id="not-utf-8"),
    pytest.param(b'{"alg":"ES256","sub":"\xc3"}', id="truncated-utf-8-sequence"),
    pytest.param('{"alg":"ES256","sub":"x"}'.encode("utf-16"), id="utf-16-with-bom"),
    pytest.param('{"alg":"ES256","sub":"x"}'.encode("utf-16-le"), id="utf-16-le"),
    pytest.param(b'\xef\xbb\xbf{"alg":"ES256","sub":"x"}', id="utf-8-bom"),
    pytest.param(raw('{"alg":"ES256","alg":"none","sub":"x"}'), id="duplicate-alg"),
    pytest.param(raw('{"alg":"ES256","sub":"alice","sub":"admin"}'), id="duplicate-sub"),
    pytest.param(raw('{"alg":"ES256","x":{"a":1,"a":2}}'), id="duplicate-key-nested"),
    pytest.param(raw('{"alg":"ES256","exp":NaN}'), id="nan"),
    pytest.param(raw('{"alg":"ES256","exp":Infinity}'), id="infinity"),
    pytest.param(raw('{"alg":"ES256","exp":-Infinity}'), id="minus-infinity"),
    pytest.param(raw('{"alg":"ES256","exp":1e400}'), id="overflows-to-inf"),
    pytest.param(raw('{"alg":"ES256","exp":-1e400}'), id="overflows-to-minus-inf"),
    pytest.param(raw('{"alg":"ES256",}'), id="trailing-comma"),
    pytest.param(raw("{'alg':'ES256'}"), id="single-quotes"),
    pytest.param(raw('{"alg":"ES256"} {}'), id="trailing-data"),
    pytest.param(raw(""), id="empty-json"),
    pytest.param(raw("[" * 3000 + "]" * 3000), id="deeply-nested-array"),
    pytest.param(raw('{"a":' * 3000 + "1" + "}" * 3000), id="deeply-nested-object"),
]


@pytest.mark.parametrize("header", BAD_JSON)
def test_bad_header_json_is_refused(header: Any) -> None:
    with pytest.raises(InvalidToken, match="header"):
        parse(token(header=header))


@pytest.mark.parametrize("payload", BAD_JSON)
def test_bad_payload_json_is_refused(payload: Any) -> None:
    with pytest.raises(InvalidToken, match="payload"):
        parse(token(payload=payload))


def test_deep_nesting_is_several_kilobytes_and_still_an_invalid_token() -> None:
    header = raw("[" * 3000)
    value = token(header=header)
    assert len(value) > 3000
    # A RecursionError escaping here would turn into a 500 further up.
    with pytest.raises(InvalidToken):
        parse(value)


# --- header rules ----------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"typ": "JWT"}, id="alg-missing"),
        pytest.param({"alg": None}, id="alg-null"),
        pytest.param({"alg": 256}, id="alg-number"),
        pytest.param({"alg": ["ES256"]}, id="alg-list"),
        pytest.param({"alg": {"name": "ES256"}}, id="alg-object"),
        pytest.param({"alg": True}, id="alg-bool"),
    ],
)
def test_alg_must_be_a_string(header: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken, match="alg"):
        parse(token(header=header))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("jku", "https://attacker.example/jwks.json", id="jku"),
        pytest.param("x5u", "https://attacker.example/cert.pem", id="x5u"),
        pytest.param("jwk", {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, id="jwk"),
        pytest.param("x5c", ["MIIB"], id="x5c"),
        pytest.param("crit", ["exp"], id="crit"),
        pytest.param("b64", False, id="b64"),
        pytest.param("zip", "DEF", id="zip"),
        pytest.param("enc", "A256GCM", id="enc"),
    ],
)
def test_forbidden_header_parameters_are_refused(name: str, value: Any) -> None:
    with pytest.raises(InvalidToken, match=name):
        parse(token(header={**HEADER, name: value}))


@pytest.mark.parametrize(
    "cty",
    [
        pytest.param("JWT", id="JWT"),
        pytest.param("jwt", id="lowercase"),
        pytest.param("Jwt", id="mixed-case"),
        # RFC 7515 §4.1.10: a cty without "/" means "application/" + cty, so
        # "application/jwt" is the same nested-token signal as "JWT".
        pytest.param("application/jwt", id="application-jwt"),
        pytest.param("application/JWT", id="application-JWT"),
        pytest.param(1, id="not-a-string"),
    ],
)
def test_nested_tokens_are_refused(cty: Any) -> None:
    with pytest.raises(InvalidToken, match="nested"):
        parse(token(header={**HEADER, "cty": cty}))


def test_other_content_types_are_accepted() -> None:
    assert parse(token(header={**HEADER, "cty": "json"})).header["cty"] == "json"


@pytest.mark.parametrize("name", ["kid", "typ"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1, id="number"),
        pytest.param(None, id="null"),
        pytest.param(["ec-1"], id="list"),
        pytest.param({"id": "ec-1"}, id="object"),
        pytest.param(False, id="bool"),
    ],
)
def test_kid_and_typ_must_be_strings(name: str, value: Any) -> None:
    with pytest.raises(InvalidToken, match=name):
        parse(token(header={**HEADER, name: value}))


# --- a valid token ---------------------------------------------------------


def test_valid_token_parses(ec_key: SigningKey) -> None:
    value = ec_key.token()
    jws = parse(value)
    first, second, third = value.split(".")
    assert jws.signing_input == f"{first}.{second}".encode("ascii")
    assert jws.signature == b64url_decode(third)
    assert len(jws.signature) == 64
    assert jws.alg == "ES256"
    assert jws.kid == "ec-1"
    assert jws.header == {"alg": "ES256", "typ": "JWT", "kid": "ec-1"}
    assert jws.claims["sub"] == "user:default/alice"
    assert jws.claims == json.loads(b64url_decode(second))


def test_kid_is_optional() -> None:
    jws = parse(token(header={"alg": "RS256"}))
    assert jws.kid is None
    assert jws.alg == "RS256"


def test_alg_is_not_judged_by_the_parser() -> None:
    # Which algorithms are acceptable is the issuer's decision, made later.
    assert parse(token(header={"alg": "none"})).alg == "none"


def test_nested_json_values_and_unicode_are_kept() -> None:
    claims = {"sub": "ålice", "n": 1.5, "big": 10**20, "ent": ["a", {"b": [1, 2]}]}
    assert parse(token(payload=claims)).claims == claims


# --- base64url -------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\x00", id="one-byte"),
        pytest.param(b"\xfb\xff", id="two-bytes-url-alphabet"),
        pytest.param(b"\xfb\xff\xbf", id="three-bytes"),
        pytest.param(bytes(range(256)), id="all-bytes"),
    ],
)
def test_b64url_round_trip(data: bytes) -> None:
    encoded = b64url_encode(data)
    assert "=" not in encoded
    assert "+" not in encoded
    assert "/" not in encoded
    assert encoded == b64url(data)
    assert b64url_decode(encoded) == data


def test_b64url_encode_of_nothing_is_empty() -> None:
    assert b64url_encode(b"") == ""


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("", id="empty"),
        pytest.param("A", id="length-1"),
        pytest.param("AAAAA", id="length-5"),
        pytest.param("AA==", id="padded"),
        pytest.param("AA=", id="half-padded"),
        pytest.param("+/8", id="standard-alphabet"),
        pytest.param("AA AA", id="space"),
        pytest.param("AAAA\n", id="newline"),
        pytest.param("AA.A", id="dot"),
        pytest.param("AAé", id="non-ascii"),
        pytest.param("AB", id="non-canonical-2-char-tail"),
        pytest.param("AAB", id="non-canonical-3-char-tail"),
    ],
)
def test_b64url_decode_refuses_bad_input(segment: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(segment)


def test_a_token_has_exactly_one_spelling(ec_key: SigningKey) -> None:
    """Flipping the unused low bits of the last character must not give a second valid token."""
    token = ec_key.token()
    head, _, signature = token.rpartition(".")
    assert len(signature) % 4 == 2  # 64 bytes: two characters in the tail, four unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = alphabet.index(signature[-1])
    variants = [signature[:-1] + alphabet[value | low] for low in range(1, 16)]
    for variant in variants:
        with pytest.raises(InvalidToken):
            parse(f"{head}.{variant}")
    parse(token)


def _nested(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth - 1):
        value = {"a": value}
    return {"sub": "x", "deep": value}


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        pytest.param(_nested(31), True, id="depth-32-accepted"),
        pytest.param(_nested(32), False, id="depth-33-refused"),
        pytest.param({"sub": "x", "deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}, False, id="deep-list-refused"),
        pytest.param({"sub": "x", "many": [[i] for i in range(200)]}, True, id="many-shallow-brackets-accepted"),
        pytest.param({"sub": "x", "text": "[" * 100 + "{" * 100}, True, id="brackets-inside-strings"),
    ],
)
def test_nesting_depth_is_the_same_on_every_python(claims: dict[str, Any], accepted: bool) -> None:
    """3.13 parses what older versions refuse with RecursionError; the guard refuses both."""
    token = f"{b64url_json({'alg': 'ES256'})}.{b64url_json(claims)}.{b64url(b'sig')}"
    if accepted:
        assert parse(token).claims == claims
    else:
        with pytest.raises(InvalidToken, match="nested too deeply"):
            parse(token)


# --- the fast paths (issue 5) agree with the plain ones ---------------------

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. \n\x00é"


def _decoders() -> list[Any]:
    import wsgi_jwt_guard.jws as jws_module

    return [getattr(jws_module, name) for name in ("_b64url_decode_checked", "_b64url_decode_strict") if hasattr(jws_module, name)]


def _outcome(decode: Any, segment: str) -> bytes | str:
    try:
        result: bytes = decode(segment)
    except ValueError as exc:
        return f"refused: {'base64url' in str(exc)}"
    return result


def test_both_base64url_decoders_accept_and_refuse_the_same_segments() -> None:
    """The 3.11+ strict-mode decoder and the 3.10 regex decoder are interchangeable."""
    import random

    decoders = _decoders()
    rng = random.Random(5)
    segments = [b64url(bytes(rng.randrange(256) for _ in range(n))) for n in range(40)]
    segments += ["".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(12))) for _ in range(3000)]
    for segment in segments:
        outcomes = {repr(_outcome(decode, segment)) for decode in decoders}
        assert len(outcomes) == 1, (segment, outcomes)
        assert "refused: False" not in outcomes  # every refusal says base64url


def test_a_known_header_is_reused_only_for_the_same_segment(ec_key: SigningKey) -> None:
    token = ec_key.token()
    head = token.split(".")[0]
    first = parse(token)
    reused = parse(token, {head: first.header})
    assert reused.header is first.header
    assert reused.claims == first.claims
    assert reused.signing_input == first.signing_input
    # A header that is not in the table is decoded and checked as usual.
    bad = b64url_json({"alg": "ES256", "jku": "https://evil.example"})
    with pytest.raises(InvalidToken, match="jku"):
        parse(f"{bad}.{token.split('.', 1)[1]}", {head: first.header})


# --- the lenient reading for people (wsgi-jwt-guard inspect) ---------------------------

DEEP: dict[str, Any] = {"a": json.loads("[" * 40 + "]" * 40)}


def test_a_token_the_parser_accepts_reads_the_same_and_unrefused(ec_key: SigningKey) -> None:
    value = ec_key.token()
    strict = parse(value)
    lenient = parse_unverified(value)
    assert (lenient.header, lenient.claims, lenient.refusal) == (strict.header, strict.claims, None)


@pytest.mark.parametrize(
    ("value", "header", "claims", "refusal"),
    [
        pytest.param(f"{H}=.{P}.{SIG}", HEADER, CLAIMS, "header", id="padding"),
        pytest.param(f"{H}.{P}==.{SIG}", HEADER, CLAIMS, "payload", id="padding-in-payload"),
        pytest.param(f" {H}.{P}.{SIG}\n", HEADER, CLAIMS, "header", id="whitespace"),
        pytest.param(f"{H}.{P}.", HEADER, CLAIMS, "signature", id="no-signature"),
        pytest.param(f"{H}.{P}.{SIG}*", HEADER, CLAIMS, "signature", id="junk-in-signature"),
        pytest.param(
            token(raw('{"alg":"ES256","alg":"none"}')), {"alg": "none"}, CLAIMS, "header",
            id="duplicate-key-last-wins",
        ),
        pytest.param(
            token(payload=raw('{"exp":NaN}')), HEADER, {"exp": pytest.approx(float("nan"), nan_ok=True)},
            "payload", id="nan",
        ),
        pytest.param(
            token({"alg": "ES256", "jku": "https://evil.example"}),
            {"alg": "ES256", "jku": "https://evil.example"}, CLAIMS, "'jku'", id="forbidden-header",
        ),
        pytest.param(token({"typ": "JWT"}), {"typ": "JWT"}, CLAIMS, "no 'alg'", id="no-alg"),
        pytest.param(
            token({"alg": "ES256", "cty": "JWT"}), {"alg": "ES256", "cty": "JWT"}, CLAIMS,
            "nested", id="nested",
        ),
        pytest.param(token(payload=DEEP), HEADER, DEEP, "deeply", id="too-deep"),
    ],
)
def test_what_the_parser_refuses_still_reads_with_the_reason(
    value: str, header: dict[str, Any], claims: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(InvalidToken):
        parse(value)
    lenient = parse_unverified(value)
    assert lenient.header == header
    assert lenient.claims == claims
    assert lenient.refusal is not None
    assert refusal in lenient.refusal


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("abc", "expected 3 dot-separated segments, got 1", id="one-segment"),
        pytest.param(f"{H}.{P}", "got 2", id="two-segments"),
        pytest.param(f"{H}.{P}.{SIG}.{SIG}.{SIG}", "got 5", id="jwe"),
        pytest.param("a.b.c", "header is not base64url JSON", id="not-json"),
        pytest.param(f"{H}.{P[:-1]}é.{SIG}", "payload is not base64url JSON", id="non-ascii"),
        pytest.param(f"{H}A.{P}.{SIG}", "header is not base64url JSON", id="header-plus-one"),
        pytest.param(token(["ES256"]), "header is not a JSON object", id="header-list"),
        pytest.param(token(payload="sub"), "payload is not a JSON object", id="payload-string"),
    ],
)
def test_what_not_even_the_lenient_reading_reads(value: str, message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        parse_unverified(value)


# --- padding=True: AWS ALB's padded segments ------------------------------------------


def _alb_like(header: Any, payload: Any) -> str:
    """A token whose segments are padded as ALB pads them (the signature is not checked)."""

    def pad(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode()

    return ".".join(
        [pad(json.dumps(header).encode()), pad(json.dumps(payload).encode()), pad(b"s" * 64)]
    )


def test_padding_accepted_only_when_asked() -> None:
    token = _alb_like({"alg": "ES256", "kid": "k"}, {"sub": "a"})
    assert "=" in token
    with pytest.raises(InvalidToken):
        parse(token)
    jws = parse(token, padding=True)
    assert jws.claims == {"sub": "a"}
    assert jws.signature == b"s" * 64
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()  # padding signed as sent


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("eyJhIjoxfQ===", id="three-pads"),
        pytest.param("eyJhIjoxfQ=", id="short-padding"),
        pytest.param("eyJhIjoxfQ=A", id="padding-inside"),
        pytest.param("eyJhIjoxfQ==" + "====", id="extra-block"),
    ],
)
def test_wrong_padding_refused(segment: str) -> None:
    header = b64url_json({"alg": "ES256"})
    with pytest.raises(InvalidToken):
        parse(f"{header}.{segment}.{b64url(b's' * 64)}", padding=True)
