"""The attack-token corpus: every token here must be refused with a 401.

Each case is one attack from the literature, named by its id and referenced
in its comment (RFC 8725 section, CVE or write-up). Tokens are forged at test
time from real keys (``forge.py``) and sent through the guard three ways --
``Authorization: Bearer``, the token cookie and a configured custom header --
and each time the guard must answer 401 with an RFC 6750 ``invalid_token``
challenge, never reach the app, never echo the token, and never fail with a 500.

References used below:
  RFC 8725 -- JSON Web Token Best Current Practices (sections cited as §x.y).
  PortSwigger Web Security Academy, "JWT attacks" (alg none, jwk/jku/kid injection,
  algorithm confusion).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import create_environ, run_wsgi_app

from tests.helpers import AUDIENCE, ISSUER, SigningKey, b64url, build_guard, issuer_of
from tests.hostile.forge import P256_ORDER, Forge, b64, js, public_key_encodings
from tests.jwks_server import JWKSServer
from wsgi_jwt_guard import JWTGuard

Make = Callable[[Forge], str]
IAP = "X-Goog-IAP-JWT-Assertion"
SOURCES = ["header", "cookie", "custom-header"]


class Reached(list[dict[str, Any]]):
    """The requests that reached the app."""


def recording_guard(ec_key: SigningKey, rsa_key: SigningKey, reached: Reached, **options: Any) -> JWTGuard:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(dict(environ))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"protected handler"]

    options.setdefault("max_token_size", 16384)  # so a 10 KB kid is parsed, not just cut
    return build_guard(app, issuers=[issuer_of([ec_key, rsa_key])], token_headers=[IAP], **options)


@pytest.fixture(scope="module")
def reached() -> Reached:
    return Reached()


@pytest.fixture(scope="module")
def guard(ec_key: SigningKey, rsa_key: SigningKey, reached: Reached) -> JWTGuard:
    return recording_guard(ec_key, rsa_key, reached)


# What each transport can carry at all: a token outside it cannot be "invalid_token",
# it is a malformed request (or, for a cookie the parser drops, no token).
_CARRIES = {
    "header": re.compile(r"[A-Za-z0-9\-._~+/]+=*"),
    "cookie": re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+"),  # RFC 6265 cookie-octet
    "custom-header": re.compile(r"[A-Za-z0-9\-._]+"),
}


def send(guard: JWTGuard, token: str, source: str, path: str = "/api/catalog", **extra: str) -> tuple[int, list[tuple[str, str]], bytes]:
    environ = create_environ(path, method=extra.pop("method", "GET"))
    # A server hands header bytes over as latin-1 characters (PEP 3333).
    wire = token.encode("utf-8").decode("latin-1")
    key = {"header": "HTTP_AUTHORIZATION", "cookie": "HTTP_COOKIE", "custom-header": "HTTP_X_GOOG_IAP_JWT_ASSERTION"}[source]
    environ[key] = {"header": f"Bearer {wire}", "cookie": f"token={wire}", "custom-header": wire}[source]
    environ.update(extra)
    app_iter, status, headers = run_wsgi_app(guard, environ)
    body = b"".join(app_iter)
    return int(status.split()[0]), list(headers.items()), body


def assert_refused(
    guard: JWTGuard, reached: Reached, token: str, source: str, path: str = "/api/catalog"
) -> dict[str, Any]:
    before = len(reached)
    status, headers, body = send(guard, token, source, path)
    assert status == 401, (status, body)
    assert len(reached) == before, "the app was reached"
    challenge = dict(headers)["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="')
    if _CARRIES[source].fullmatch(token) and len(token) <= 16384:
        assert 'error="invalid_token"' in challenge, challenge
    else:  # not carried as one token: a malformed request, or no token at all
        assert 'error="invalid_token"' in challenge or 'error="invalid_request"' in challenge or "error=" not in challenge
    assert_not_echoed(token, headers, body)
    cookies = [value for name, value in headers if name == "Set-Cookie"]
    if source == "cookie" and 'error="invalid_token"' in challenge:
        # A refused cookie is cleared, with the attributes it was set with.
        (cleared,) = cookies
        assert cleared.startswith("token=;")
        assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in cleared
        assert {"HttpOnly", "Path=/", "SameSite=Lax"} <= {p.strip() for p in cleared.split(";")}
    else:
        assert cookies == []
    document: dict[str, Any] = json.loads(body)
    assert document["error"]["name"] == "AuthenticationError"
    return document


def assert_not_echoed(token: str, headers: list[tuple[str, str]], body: bytes) -> None:
    """Neither the token nor any sizeable piece of it comes back."""
    text = body.decode("utf-8", "replace") + "\n".join(f"{k}: {v}" for k, v in headers)
    pieces = [part for part in [token, *re.split(r"[.\s]", token)] if len(part) >= 12]
    for piece in pieces:
        assert piece not in text, f"echoed: {piece[:40]!r}"


def case(id: str, make: Make) -> Any:
    return pytest.param(make, id=id)


def _encodings(which: str) -> list[Any]:
    """HS256/384/512 signed with every spelling of an issuer key (algorithm confusion)."""
    names_ec = ["spki-pem", "spki-pem-no-newline", "spki-der", "openssh", "x509-pem", "x509-der", "jwk-json", "jwk-json-pretty", "x962-uncompressed", "x962-compressed"]
    names_rsa = ["spki-pem", "spki-pem-no-newline", "spki-der", "pkcs1-pem", "pkcs1-der", "openssh", "x509-pem", "x509-der", "jwk-json", "jwk-json-pretty", "modulus"]
    cases = []
    for name in names_ec if which == "ec" else names_rsa:
        for alg in ("HS256", "HS384", "HS512"):
            def make(f: Forge, name: str = name, alg: str = alg) -> str:
                key = f.issuer_ec if which == "ec" else f.issuer_rsa
                return f.hmac(public_key_encodings(key)[name], alg, kid=key.kid)
            cases.append(case(f"{alg}-with-{which}-public-key-{name}", make))
    return cases


# --------------------------------------------------------------------------------------
# The corpus. Ids name the attack; comments give the reference.
# --------------------------------------------------------------------------------------

ALG_CASES = [
    # RFC 8725 §2.1, §3.1; CVE-2015-9235 (jsonwebtoken), PortSwigger "alg none".
    *(case(f"alg-{spelling}-empty-signature", lambda f, s=spelling: f.unsigned(f.header(alg=s)))
      for spelling in ("none", "None", "NONE", "nOnE")),
    case("alg-none-with-garbage-signature", lambda f: f.unsigned(f.header(alg="none"), b"x" * 64)),
    case("alg-none-with-real-signature", lambda f: f.signed(f.header(alg="none"))),
    case("alg-none-no-kid", lambda f: f.unsigned({"alg": "none"})),
    case("alg-none-two-segments", lambda f: f.unsigned({"alg": "none"}).rstrip(".")),
    # RFC 8725 §3.1: the algorithm is the verifier's choice, so a missing or odd one is refused.
    case("alg-missing", lambda f: f.signed(f.header(drop=("alg",)))),
    case("alg-empty", lambda f: f.signed(f.header(alg=""))),
    case("alg-null", lambda f: f.signed(f.header(alg=None))),
    case("alg-number", lambda f: f.signed(f.header(alg=256))),
    case("alg-list", lambda f: f.signed(f.header(alg=["ES256"]))),
    case("alg-object", lambda f: f.signed(f.header(alg={"name": "ES256"}))),
    case("alg-true", lambda f: f.signed(f.header(alg=True))),
    case("alg-lowercase", lambda f: f.signed(f.header(alg="es256"))),
    case("alg-trailing-space", lambda f: f.signed(f.header(alg="ES256 "))),
    case("alg-leading-space", lambda f: f.signed(f.header(alg=" ES256"))),
    case("alg-trailing-nul", lambda f: f.signed(f.header(alg="ES256\x00"))),
    case("alg-fullwidth", lambda f: f.signed(f.header(alg="\uff25\uff33\uff12\uff15\uff16"))),
    # RFC 8725 §2.1/§3.1: PS256 is a fine algorithm, but not one this issuer allows.
    case("alg-ps256-not-allowed", lambda f: f.pss()),
    case("alg-es384-not-allowed", lambda f: f.signed(f.header(f.attacker_p384), key=f.attacker_p384)),
    # Key/algorithm pinning: a kid naming a key of another type.
    case("alg-rs256-with-ec-kid", lambda f: f.signed(f.header(f.issuer_rsa, kid="ec-1"), key=f.issuer_rsa)),
    case("alg-es256-with-rsa-kid", lambda f: f.signed(f.header(kid="rsa-1"))),
]

CONFUSION_CASES = [
    # RFC 8725 §2.1/§3.1; CVE-2016-10555 (jwt-simple), CVE-2017-11424 (PyJWT),
    # CVE-2022-29217 (PyJWT, OpenSSH keys), CVE-2024-33663 (python-jose, OpenSSH ECDSA),
    # PortSwigger "algorithm confusion": HMAC keyed with the issuer's public key.
    *_encodings("ec"),
    *_encodings("rsa"),
    case("HS256-with-empty-secret", lambda f: f.hmac(b"", kid="ec-1")),
    case("HS256-with-kid-naming-the-public-key", lambda f: f.hmac(public_key_encodings(f.issuer_ec)["spki-pem"], kid="../ec-1.pem")),
]

INJECTION_CASES = [
    # RFC 8725 §3.10, CVE-2018-0114 (node-jose), PortSwigger "jwk header injection".
    case("embedded-jwk-attacker-key", lambda f: f.signed(f.header(f.attacker_ec, jwk=f.attacker_ec.public_jwk()), key=f.attacker_ec)),
    case("embedded-jwk-attacker-key-no-kid", lambda f: f.signed(f.header(f.attacker_ec, drop=("kid",), jwk=f.attacker_ec.public_jwk(kid=None)), key=f.attacker_ec)),
    case("embedded-x5c-attacker-cert", lambda f: f.signed(f.header(f.attacker_ec, x5c=["MIIBattacker"]), key=f.attacker_ec)),
    # RFC 8725 §3.10, PortSwigger "jku header injection": the listener must see no request.
    case("jku-to-attacker-jwks", lambda f: f.signed(f.header(f.attacker_ec, kid="attacker-1", jku=f"{f.listener}/jwks.json"), key=f.attacker_ec)),
    case("jku-with-issuer-kid", lambda f: f.signed(f.header(f.attacker_ec, jku=f"{f.listener}/jwks.json"), key=f.attacker_ec)),
    case("jku-on-genuine-token", lambda f: f.signed(f.header(jku=f"{f.listener}/jwks.json"))),
    case("x5u-to-attacker-cert", lambda f: f.signed(f.header(f.attacker_ec, x5u=f"{f.listener}/cert.pem"), key=f.attacker_ec)),
    case("jku-in-kid", lambda f: f.signed(f.header(f.attacker_ec, kid=f"{f.listener}/jwks.json"), key=f.attacker_ec)),
]

HOSTILE_KIDS: list[tuple[str, Any]] = [
    ("path-traversal", "../../../../../../dev/null"),
    ("path-traversal-etc-passwd", "../../../etc/passwd"),
    ("absolute-path", "/dev/null"),
    ("sql-injection", "' OR '1'='1' --"),
    ("sql-union", "x' UNION SELECT 'AAAA' --"),
    ("shell-substitution", "$(touch /tmp/pwned)"),
    ("shell-backticks", "`id`"),
    ("shell-pipe", "ec-1 | cat /etc/passwd"),
    ("empty", ""),
    ("10-kb", "A" * 10240),
    ("nul", "\x00"),
    ("trailing-nul", "ec-1\x00"),
    ("trailing-space", "ec-1 "),
    ("case-changed", "EC-1"),
    ("newline", "ec-1\n"),
    ("prototype", "__proto__"),
    ("format-string", "%s%s%s%n"),
    ("number", 1),
    ("float", 1.5),
    ("true", True),
    ("null", None),
    ("list", ["ec-1"]),
    ("object", {"kid": "ec-1"}),
]

KID_CASES = [
    # RFC 8725 §3.10 ("kid" is untrusted input); PortSwigger "kid header path traversal".
    *(case(f"kid-{name}-hs256-empty-key", lambda f, kid=kid: f.hmac(b"", kid=kid)) for name, kid in HOSTILE_KIDS),
    *(case(f"kid-{name}-attacker-es256", lambda f, kid=kid: f.signed(f.header(f.attacker_ec, kid=kid), key=f.attacker_ec)) for name, kid in HOSTILE_KIDS),
    *(case(f"kid-{name}-issuer-signed", lambda f, kid=kid: f.signed(f.header(kid=kid))) for name, kid in HOSTILE_KIDS),
]

KEY_CASES = [
    # RFC 8725 §3.3/§3.4 (validate cryptographic inputs); CVE-2022-21449 ("psychic signatures").
    case("same-kid-other-p256-key", lambda f: f.signed(f.header(f.attacker_ec), key=f.attacker_ec)),
    case("p384-signature-under-es256", lambda f: f.signed(f.header(), key=f.attacker_p384)),
    case("es256-zero-signature", lambda f: f.with_signature(bytes(64))),
    case("es256-r-s-equal-order", lambda f: f.with_signature(P256_ORDER.to_bytes(32, "big") * 2)),
    case("es256-r-s-one", lambda f: f.with_signature((1).to_bytes(32, "big") * 2)),
    case("es256-truncated-63", lambda f: f.es256_mangled(lambda s: s[:63])),
    case("es256-truncated-32", lambda f: f.es256_mangled(lambda s: s[:32])),
    case("es256-one-byte", lambda f: f.es256_mangled(lambda s: s[:1])),
    case("es256-der-encoded", lambda f: f.es256_der()),
    case("es256-over-long-leading-zero", lambda f: f.es256_mangled(lambda s: b"\x00" + s)),
    case("es256-over-long-trailing-zero", lambda f: f.es256_mangled(lambda s: s + b"\x00")),
    case("es256-doubled", lambda f: f.es256_mangled(lambda s: s + s)),
    case("es256-r-s-swapped", lambda f: f.es256_mangled(lambda s: s[32:] + s[:32])),
    case("es256-r-plus-order", lambda f: f.es256_rs(lambda r, s: (r + P256_ORDER).to_bytes(33, "big")[-32:] + s.to_bytes(32, "big"))),
    case("es256-bit-flipped", lambda f: f.es256_mangled(lambda s: bytes([s[0] ^ 1]) + s[1:])),
    case("rs256-truncated", lambda f: f.rs256_mangled(lambda s: s[:-1])),
    case("rs256-leading-zero", lambda f: f.rs256_mangled(lambda s: b"\x00" + s)),
    case("rs256-zero", lambda f: f.rs256_mangled(lambda s: bytes(len(s)))),
    case("rs256-all-ones", lambda f: f.rs256_mangled(lambda s: b"\xff" * len(s))),
    case("rs256-bit-flipped", lambda f: f.rs256_mangled(lambda s: s[:-1] + bytes([s[-1] ^ 1]))),
]

HEADER_PARAMETER_CASES = [
    # RFC 7515 §4.1.11, RFC 8725 §3.1: an unknown "crit" must be refused, python-jose ignores it.
    case("crit-exp", lambda f: f.signed(f.header(crit=["exp"]))),
    case("crit-empty-list", lambda f: f.signed(f.header(crit=[]))),
    case("crit-string", lambda f: f.signed(f.header(crit="exp"))),
    case("crit-unknown-extension", lambda f: f.signed(f.header(crit=["https://attacker.example/ext"], **{"https://attacker.example/ext": 1}))),
    # RFC 7797: unencoded payloads change what the signature covers.
    case("b64-false", lambda f: f.signed(f.header(b64=False, crit=["b64"]))),
    case("b64-false-without-crit", lambda f: f.signed(f.header(b64=False))),
    case("b64-false-raw-payload", lambda f: f"{b64(js(f.header(b64=False, crit=['b64'])))}.{js(f.claims())}.{b64url(b'x' * 64)}"),
    case("b64-false-detached", lambda f: f"{b64(js(f.header(b64=False, crit=['b64'])))}..{b64url(b'x' * 64)}"),
    # RFC 8725 §2.8/§3.11: nested tokens and compression.
    case("cty-jwt-nested", lambda f: f.signed(f.header(cty="JWT"))),
    case("zip-def", lambda f: f.signed(f.header(zip="DEF"))),
]

_SEGMENT_JUNK: list[tuple[str, Callable[[str], str]]] = [
    ("two-segments", lambda t: t.rsplit(".", 1)[0]),
    ("four-segments", lambda t: t + "." + t.split(".")[2]),
    ("one-segment", lambda t: t.split(".")[0]),
    ("empty-token", lambda t: ""),
    ("only-dots", lambda t: ".."),
    ("empty-header", lambda t: "." + t.split(".", 1)[1]),
    ("empty-payload", lambda t: t.split(".")[0] + ".." + t.split(".")[2]),
    ("empty-signature", lambda t: t.rsplit(".", 1)[0] + "."),
    ("trailing-dot", lambda t: t + "."),
    ("leading-dot", lambda t: "." + t),
    ("padding-header", lambda t: t.replace(".", "=.", 1)),
    ("padding-payload", lambda t: t.split(".")[0] + "." + t.split(".")[1] + "==." + t.split(".")[2]),
    ("padding-signature", lambda t: t + "="),
    ("padding-signature-double", lambda t: t + "=="),
    ("padding-in-the-middle", lambda t: t[:10] + "=" + t[10:]),
    ("space-inside", lambda t: t[:10] + " " + t[10:]),
    ("tab-inside", lambda t: t[:10] + "\t" + t[10:]),
    ("newline-inside", lambda t: t[:10] + "\n" + t[10:]),
        ("nul-inside", lambda t: t[:10] + "\x00" + t[10:]),
    ("nul-after", lambda t: t + "\x00"),
    ("percent-encoded-dot", lambda t: t.replace(".", "%2E", 1)),
    ("asterisk", lambda t: t + "*"),
    ("tilde", lambda t: t + "~"),
    ("non-ascii-letter", lambda t: t + "é"),
    ("fullwidth-dot", lambda t: t.replace(".", "\uff0e", 1)),
    ("one-dot-leader", lambda t: t.replace(".", "\u2024", 1)),
    ("zero-width-space", lambda t: t[:10] + "\u200b" + t[10:]),
    ("header-length-mod-4-is-1", lambda t: t.split(".")[0] + "A." + t.split(".", 1)[1]),
    ("signature-cut-by-one", lambda t: t[:-1]),
    ("signature-cut-to-mod-4-is-1", lambda t: t.rsplit(".", 1)[0] + "." + t.rsplit(".", 1)[1][: (len(t.rsplit(".", 1)[1]) // 4) * 4 + 1]),
    ("bearer-inside", lambda t: "Bearer " + t),
    ("doubled-token", lambda t: t + "." + t),
    ("comma-joined-twice", lambda t: t + "," + t),
]


def _standard_alphabet(f: Forge) -> str:
    token = f.valid_containing("-_")
    return token.translate(str.maketrans("-_", "+/"))


def _non_canonical_tail(f: Forge) -> str:
    # RFC 7515 §2 / RFC 4648 §3.5: the same bytes spelled with non-zero pad bits.
    for _ in range(200):
        token = f.valid()
        signature = token.rsplit(".", 1)[1]
        if len(signature) % 4 in (2, 3):
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            last = alphabet.index(signature[-1])
            return token[:-1] + alphabet[last | 1]
    raise AssertionError("unreachable: ES256 signatures are 86 characters")


SEGMENT_CASES = [
    # RFC 7515 §7.1 (compact serialization), RFC 8725 §2.6 (one token, one spelling).
    *(case(f"segments-{name}", lambda f, change=change: f.mangle(change)) for name, change in _SEGMENT_JUNK),
    case("segments-standard-base64-alphabet", _standard_alphabet),
    case("segments-non-canonical-base64-tail", _non_canonical_tail),
    case("segments-header-padded-base64", lambda f: f.mangle(lambda t: b64(js(f.header())) + "==" + "." + t.split(".", 1)[1])),
]

JSON_CASES = [
    # RFC 8725 §3.7 (UTF-8 only), RFC 7515 §5.2 (header is a JSON object), RFC 8259 §4.
    *(case(f"header-json-{name}", lambda f, text=text: f.raw(text, js(f.claims()))) for name, text in [
        ("array", '["ES256"]'), ("string", '"ES256"'), ("number", "1"), ("null", "null"), ("true", "true"),
        ("empty", ""), ("trailing-comma", '{"alg":"ES256","kid":"ec-1",}'), ("single-quotes", "{'alg':'ES256'}"),
        ("trailing-data", '{"alg":"ES256","kid":"ec-1"}{}'),
    ]),
    *(case(f"payload-json-{name}", lambda f, text=text: f.raw(js(f.header()), text)) for name, text in [
        ("array", f'[{js(ISSUER)}]'), ("string", '"alice"'), ("number", "1"), ("null", "null"), ("false", "false"), ("empty", ""),
    ]),
    case("header-not-utf8", lambda f: f.raw(b'{"alg":"ES256","kid":"ec-1","x":"\xff\xfe"}', js(f.claims()))),
    case("payload-not-utf8", lambda f: f.raw(js(f.header()), js(f.claims()).replace('"sub":"user', '"sub":"\xe9user').encode("latin-1"))),
    case("payload-utf16", lambda f: f.raw(js(f.header()), js(f.claims()).encode("utf-16"))),
    case("payload-utf8-bom", lambda f: f.raw(js(f.header()), b"\xef\xbb\xbf" + js(f.claims()).encode())),
    case("payload-overlong-utf8-quote", lambda f: f.raw(js(f.header()), js(f.claims()).encode().replace(b'"sub":"user', b'"sub":"\xc0\xa2user'))),
    case("payload-cesu8-surrogate", lambda f: f.raw(js(f.header()), js(f.claims()).encode().replace(b'"sub":"user', b'"sub":"\xed\xa0\x80user'))),
    # RFC 8725 §2.6/§3.10 and RFC 7515 §4 ("MUST reject" duplicate header names).
    case("duplicate-header-alg", lambda f: f.raw('{"alg":"ES256","kid":"ec-1","alg":"none"}', js(f.claims()))),
    case("duplicate-header-kid", lambda f: f.raw('{"alg":"ES256","kid":"nope","kid":"ec-1"}', js(f.claims()))),
    case("duplicate-claim-sub", lambda f: f.raw_claims('"sub":"user:default/alice"', '"sub":"user:default/alice","sub":"user:default/admin"')),
    case("duplicate-claim-sub-escaped", lambda f: f.raw_claims('"sub":"user:default/alice"', '"sub":"user:default/alice","\\u0073ub":"user:default/admin"')),
    case("duplicate-claim-exp", lambda f: f.raw_claims('"exp":', '"exp":1,"exp":')),
    case("duplicate-claim-iss", lambda f: f.raw_claims(f'"iss":{js(ISSUER)}', f'"iss":"https://evil.example",{js("iss")}:{js(ISSUER)}')),
    case("duplicate-claim-nested", lambda f: f.raw_claims('"ent":[', '"x":{"a":1,"a":2},"ent":[')),
    # Recursion: a ~3 KB header that blows Python's recursion limit (RFC 8725 §2.9 style DoS).
    case("header-nested-1500-arrays-3kb", lambda f: f.nested(1500)),
    case("header-nested-33-arrays", lambda f: f.nested(33)),
    case("payload-nested-1500-objects", lambda f: f.raw_claims('"ent":[', '"x":' + '{"a":' * 1500 + "1" + "}" * 1500 + ',"ent":[')),
    case("payload-nan", lambda f: f.raw_claims('"exp":', '"nan":NaN,"exp":')),
]

_HUGE = "x" * 17000

SHAPE_CASES = [
    # Oversize: refused before parsing (RFC 8725 §2.9-style resource exhaustion).
    case("oversize-17-kb-genuine", lambda f: f.with_claims(pad=_HUGE)),
    case("oversize-1-mb-junk", lambda f: "a" * 1_000_000),
    # JWE and JWS JSON serialization are not what the guard accepts (RFC 7516, RFC 7515 §7.2).
    case("jwe-compact-five-segments", lambda f: ".".join([b64(js({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "rsa-1"})), b64(b"k" * 256), b64(b"iv" * 6), b64(js(f.claims())), b64(b"t" * 16)])),
    case("jwe-dir-five-segments", lambda f: ".".join([b64(js({"alg": "dir", "enc": "A128CBC-HS256"})), "", b64(b"i" * 16), b64(b"c" * 64), b64(b"t" * 16)])),
    case("jwe-header-as-jws", lambda f: f.signed(f.header(enc="A256GCM"))),
    case("jws-json-flattened", lambda f: js({"protected": f.valid().split(".")[0], "payload": f.valid().split(".")[1], "signature": f.valid().split(".")[2]})),
    case("jws-json-general", lambda f: js({"payload": f.valid().split(".")[1], "signatures": [{"protected": f.valid().split(".")[0], "signature": f.valid().split(".")[2]}]})),
    case("jws-json-base64url-wrapped", lambda f: b64(js({"protected": f.valid().split(".")[0], "payload": f.valid().split(".")[1], "signature": f.valid().split(".")[2]}))),
    # CVE-2022-39227 (python-jwt): a compact token mixed into a JSON serialization.
    case("jws-json-compact-mix", lambda f: js({f.valid(): "", "protected": b64(js(f.header(f.attacker_ec))), "payload": b64(js(f.claims(sub="user:default/admin"))), "signature": "AAAA"})),
]

CLAIM_CASES = [
    # RFC 8725 §3.10 and RFC 7519 §2 (NumericDate is a JSON number); python-jose int()s strings.
    case("exp-string", lambda f: f.with_claims(exp="9999999999")),
    case("exp-fullwidth-digits", lambda f: f.with_claims(exp="\uff19" * 10)),
    case("exp-true", lambda f: f.with_claims(exp=True)),
    case("exp-false", lambda f: f.with_claims(exp=False)),
    case("exp-null", lambda f: f.with_claims(exp=None)),
    case("exp-list", lambda f: f.with_claims(exp=[9999999999])),
    case("exp-object", lambda f: f.with_claims(exp={"$numberLong": "9999999999"})),
    case("exp-infinity", lambda f: f.raw_claims('"exp":', '"exp":Infinity,"x":')),
    case("exp-minus-infinity", lambda f: f.raw_claims('"exp":', '"exp":-Infinity,"x":')),
    case("exp-1e400", lambda f: f.raw_claims('"exp":', '"exp":1e400,"x":')),
    case("exp-nan", lambda f: f.raw_claims('"exp":', '"exp":NaN,"x":')),
    case("exp-missing", lambda f: f.without_claim("exp")),
    case("exp-past", lambda f: f.with_claims(exp=1)),
    case("exp-zero", lambda f: f.with_claims(exp=0)),
    case("exp-negative", lambda f: f.with_claims(exp=-1)),
    case("exp-exponent-string", lambda f: f.with_claims(exp="1e10")),
    case("nbf-future", lambda f: f.with_claims(nbf=2**31)),
    case("nbf-string", lambda f: f.with_claims(nbf="0")),
    case("nbf-nan", lambda f: f.raw_claims('"exp":', '"nbf":NaN,"exp":')),
    case("iat-future", lambda f: f.with_claims(iat=2**31)),
    case("iat-string", lambda f: f.with_claims(iat="0")),
    case("iat-null", lambda f: f.with_claims(iat=None)),
    # RFC 8725 §3.9 (use and validate audience), RFC 7519 §4.1.3.
    case("aud-missing", lambda f: f.without_claim("aud")),
    case("aud-wrong", lambda f: f.with_claims(aud="other-service")),
    case("aud-wrong-case", lambda f: f.with_claims(aud=AUDIENCE.capitalize())),
    case("aud-trailing-space", lambda f: f.with_claims(aud=AUDIENCE + " ")),
    case("aud-empty-list", lambda f: f.with_claims(aud=[])),
    case("aud-list-of-numbers", lambda f: f.with_claims(aud=[1, 2])),
    case("aud-list-with-null", lambda f: f.with_claims(aud=[None])),
    case("aud-list-mixed-types", lambda f: f.with_claims(aud=[AUDIENCE, 1])),
    case("aud-nested-list", lambda f: f.with_claims(aud=[[AUDIENCE]])),
    case("aud-object", lambda f: f.with_claims(aud={"aud": AUDIENCE})),
    case("aud-number", lambda f: f.with_claims(aud=1)),
    # RFC 8725 §3.8 (validate issuer), RFC 7519 §4.1.1 (case-sensitive StringOrURI).
    case("iss-trailing-slash", lambda f: f.with_claims(iss=ISSUER + "/")),
    case("iss-uppercase", lambda f: f.with_claims(iss=ISSUER.upper())),
    case("iss-host-case", lambda f: f.with_claims(iss=ISSUER.replace("auth.example", "AUTH.example"))),
    case("iss-trailing-space", lambda f: f.with_claims(iss=ISSUER + " ")),
    case("iss-trailing-nul", lambda f: f.with_claims(iss=ISSUER + "\x00")),
    case("iss-list", lambda f: f.with_claims(iss=[ISSUER])),
    case("iss-missing", lambda f: f.without_claim("iss")),
    case("iss-attacker", lambda f: f.signed(f.header(f.attacker_ec), f.claims(iss="https://attacker.example"), key=f.attacker_ec)),
    # RFC 8725 §3.8, and REMOTE_USER must be safe to log and compare.
    case("sub-missing", lambda f: f.without_claim("sub")),
    case("sub-empty", lambda f: f.with_claims(sub="")),
    case("sub-number", lambda f: f.with_claims(sub=123)),
    case("sub-list", lambda f: f.with_claims(sub=["user:default/alice"])),
    case("sub-object", lambda f: f.with_claims(sub={"id": "alice"})),
    case("sub-null", lambda f: f.with_claims(sub=None)),
    case("sub-true", lambda f: f.with_claims(sub=True)),
    case("sub-nul", lambda f: f.with_claims(sub="alice\x00admin")),
    case("sub-newline", lambda f: f.with_claims(sub="alice\nadmin")),
    case("sub-crlf-header-injection", lambda f: f.with_claims(sub="alice\r\nX-Injected: 1")),
    case("sub-escape-sequence", lambda f: f.with_claims(sub="alice\x1b[31m")),
    case("sub-del", lambda f: f.with_claims(sub="alice\x7f")),
    case("sub-c1-next-line", lambda f: f.with_claims(sub="alice\x85admin")),
    case("sub-line-separator", lambda f: f.with_claims(sub="alice\u2028admin")),
    case("sub-lone-surrogate", lambda f: f.raw_claims('"sub":"user', '"sub":"\\ud800user')),
    # Service tokens (HS256 over the shared secret) with abused claims.
    case("service-wrong-subject", lambda f: f.service(sub="user:default/admin")),
    case("service-exp-string", lambda f: f.service(exp="9999999999")),
    case("service-expired", lambda f: f.service(exp=1)),
    case("service-no-exp", lambda f: f.raw('{"alg":"HS256"}', js({"sub": "backstage-server"}), lambda d: __import__("hmac").new(f.service_secret, d, "sha256").digest())),
]

CORPUS = [
    *ALG_CASES, *CONFUSION_CASES, *INJECTION_CASES, *KID_CASES, *KEY_CASES,
    *HEADER_PARAMETER_CASES, *SEGMENT_CASES, *JSON_CASES, *SHAPE_CASES, *CLAIM_CASES,
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("make", CORPUS)
def test_attack_token_is_refused(
    guard: JWTGuard, reached: Reached, forge: Forge, listener: JWKSServer, make: Make, source: str
) -> None:
    token = make(forge)
    assert_refused(guard, reached, token, source)
    assert listener.connections == 0, f"the guard contacted {listener.requests}"


@pytest.mark.parametrize("make", CORPUS)
def test_attack_token_on_an_optional_route_is_never_anonymous(
    guard: JWTGuard, reached: Reached, forge: Forge, make: Make
) -> None:
    assert_refused(guard, reached, make(forge), "header", path="/api/search")


def test_the_corpus_ids_are_unique() -> None:
    ids = [param.id for param in CORPUS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("source", "spell"),
    [
        # RFC 9110 §5.5: whitespace around a field value is not part of it.
        pytest.param("header", lambda t: f" {t} ", id="header-surrounding-spaces"),
        pytest.param("custom-header", lambda t: f"\t{t} ", id="custom-header-surrounding-whitespace"),
        # RFC 6265 §4.1.1: a cookie-value may be wrapped in DQUOTEs.
        pytest.param("cookie", lambda t: f'"{t}"', id="cookie-quoted"),
        pytest.param("cookie", lambda t: f" {t}", id="cookie-leading-space"),
    ],
)
def test_transport_whitespace_and_quotes_are_not_part_of_the_token(
    guard: JWTGuard, forge: Forge, source: str, spell: Callable[[str], str]
) -> None:
    status, _, _ = send(guard, spell(forge.valid()), source)
    assert status == 200


def test_a_genuine_token_passes_every_way(guard: JWTGuard, reached: Reached, forge: Forge) -> None:
    """The control: the same guard and transports accept the untouched token."""
    for source in SOURCES:
        for key in (forge.issuer_ec, forge.issuer_rsa):
            status, _, body = send(guard, forge.valid(key), source)
            assert (status, body) == (200, b"protected handler")
    assert reached[-1]["REMOTE_USER"] == "user:default/alice"


def test_oversize_is_refused_by_the_default_cap_before_parsing(
    ec_key: SigningKey, rsa_key: SigningKey, forge: Forge
) -> None:
    reached = Reached()
    guard = recording_guard(ec_key, rsa_key, reached, max_token_size=8192)
    genuine = forge.with_claims(pad="x" * 8200)  # genuinely signed, just too long
    for source in SOURCES:
        document = assert_refused(guard, reached, genuine, source)
        assert "longer than 8192" in document["error"]["message"]


def test_jku_and_use_enc_against_a_jwks_fetching_issuer(
    jwks_server: JWKSServer, listener: JWKSServer, forge: Forge, ec_key: SigningKey
) -> None:
    """RFC 8725 §3.10 and RFC 7517 §4.2: the guard fetches only its configured URL,
    and a published key marked ``use: enc`` never verifies a signature."""
    enc_key = SigningKey.ec("ES256", kid="enc-1")
    jwks_server.document = {"keys": [ec_key.public_jwk(), enc_key.public_jwk(use="enc")]}
    reached = Reached()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        reached.append(environ)
        start_response("200 OK", [])
        return [b""]

    issuer = issuer_of(jwks_uri=jwks_server.url, algorithms=["ES256"])
    guard = build_guard(app, issuers=[issuer], routes={"/api/catalog": "protected"})
    attacks = [
        forge.signed(forge.header(enc_key), key=enc_key),
        forge.signed(forge.header(forge.attacker_ec, kid="attacker-1", jku=f"{listener.url}/jwks.json"), key=forge.attacker_ec),
        forge.signed(forge.header(forge.attacker_ec, kid="attacker-2", x5u=f"{listener.url}/c.pem"), key=forge.attacker_ec),
        forge.signed(forge.header(forge.attacker_ec, kid=f"{listener.url}/jwks.json"), key=forge.attacker_ec),
    ]
    for token in attacks:
        assert_refused(guard, reached, token, "header")
    assert listener.connections == 0
    assert {h.get("Host") for h in jwks_server.headers} <= {jwks_server.url.split("/")[2]}
    status, _, _ = send(guard, forge.valid(), "header")
    assert status == 200


def test_ecdsa_signatures_are_malleable_but_the_claims_are_the_same(guard: JWTGuard, forge: Forge) -> None:
    """(r, n - s) verifies as well as (r, s): ECDSA allows it and RFC 7518 does not
    forbid it, so the guard accepts both spellings. SECURITY.md: never key a deny
    list on the token string; use ``jti`` or the subject (the revocation hook does)."""
    signing_input, r, s = forge.es256_signature_parts()
    token = f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
    twin = f"{signing_input}.{b64url(r.to_bytes(32, 'big') + (P256_ORDER - s).to_bytes(32, 'big'))}"
    assert token != twin
    assert send(guard, token, "header")[0] == send(guard, twin, "header")[0] == 200
