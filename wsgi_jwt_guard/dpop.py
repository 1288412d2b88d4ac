"""DPoP: access tokens only their client can use (RFC 9449).

A bearer token works for whoever holds it. A DPoP-bound token names the
client's public key -- its RFC 7638 thumbprint in the ``cnf.jkt`` claim -- and
the client signs a fresh *proof* for every request with the private half::

    GET /api/catalog/entities HTTP/1.1
    Host: api.example.com
    Authorization: DPoP eyJhbGciOiJFUzI1NiIs...        (the access token)
    DPoP: eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2...   (the proof, a JWS)

The guard accepts it when the token verifies as any token does and the proof
passes every check of RFC 9449 §4.3 (numbers are its points):

* exactly one ``DPoP`` header holding one compact JWS (1, 2) -- servers join
  repeated headers with a comma, and a JWS has none;
* ``typ`` is ``dpop+jwt`` (4), ``alg`` one of :attr:`DPoPSettings.algorithms`,
  asymmetric only (5): never ``none``, never ``HS*``;
* the key is the ``jwk`` header, a public key with no private members (7) and
  the one place a key may come from a request: the strict parser refuses
  ``jwk`` in every other token (:mod:`wsgi_jwt_guard.jws`); its RFC 7638
  SHA-256 thumbprint equals the token's ``cnf.jkt`` (12), and the signature
  verifies with it (6);
* ``htm`` is the request method (8), and the request names no other one in a
  method-override header;
* ``htu`` is the request URL, ignoring query and fragment (9): both compared
  after RFC 3986 normalization (scheme and host lower-cased, default port
  dropped, escapes decoded, dot segments removed, an empty path read as
  ``/``). The request URL is what the app sees: ``wsgi.url_scheme``, the
  ``Host`` header (werkzeug's :func:`~werkzeug.wsgi.get_host`) and
  ``mount + PATH_INFO``. Behind a proxy, put werkzeug's ``ProxyFix`` in front
  of the guard so scheme, host and prefix are the public ones. With
  :attr:`~DPoPSettings.origins` the origin must be one of those instead, and
  the ``Host`` a client sends plays no part;
* ``iat`` is at most :attr:`~DPoPSettings.max_age` seconds old and not in the
  future, give or take :attr:`~DPoPSettings.leeway` (11);
* ``ath`` is the base64url SHA-256 of the access token (12);
* with :attr:`~DPoPSettings.nonce`, ``nonce`` is a nonce the guard handed out
  (10; see :class:`Nonces`), else the answer is ``401 use_dpop_nonce`` with a
  fresh one in ``DPoP-Nonce`` and the client retries (RFC 9449 §9); a nonce of
  the previous period passes, and the response renews it (§8.2);
* ``jti`` was never seen before (11): it is claimed with an atomic ``add`` in
  the guard's shared cache (:class:`~wsgi_jwt_guard.caches.SharedCache`:
  Redis, memcached), so a proof replayed to another worker or host is refused
  too; an entry lives as long as its proof could be accepted. Without a shared
  cache -- or with a file-system cache, whose ``add`` is not atomic and which
  evicts entries early once full, or while the shared cache is down -- each
  process remembers the proofs it accepted itself (:class:`ProofMemory`), and a
  replay to another worker gets through. Give the shared cache room: a Redis
  or memcached that evicts keys under memory pressure forgets proofs early.

A failed proof is ``401`` with ``error="invalid_dpop_proof"`` on the ``DPoP``
challenge (RFC 9449 §7.1). Every request needs its own proof, so a repeat
token costs a proof check (one signature) even when the token itself comes
from the verified-token cache. The key of a proof header that verified before
is kept (a client sends the same header every time), so a repeat client skips
loading its key.

Which tokens must or may use DPoP is :mod:`wsgi_jwt_guard.binding`'s business
(the ``dpop`` mode of the guard, an issuer or a route); this module checks proofs::

    [dpop]
    mode = "allowed"              # off | allowed | required (issuers and routes may narrow it)
    algorithms = ["ES256", "EdDSA", "PS256"]
    max_age = 60                  # seconds a proof is accepted after its iat
    leeway = 5                    # clock skew, both ways
    nonce = true                  # demand server nonces (DPoP-Nonce)
    nonce_secrets = ["<32+ random characters>"]   # default: [cache] secrets
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import math
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import unquote_to_bytes, urlsplit

from cachelib import FileSystemCache, SimpleCache

from .algorithms import ASYMMETRIC_ALGORITHMS, ec_algorithm, ec_curve
from .caches import SharedCache
from .clock import Clock, system_clock
from .errors import ConfigError, InvalidDPoPProof, InvalidToken, UseDPoPNonce
from .jws import b64url_decode, b64url_encode, parse
from .keys import PRIVATE_MEMBERS, PinnedKey, pin_jwk
from .request import normalize_origin
from .validation import Settings, flag, one_of, origins, seconds, strings
from .validation import secrets as validated_secrets

if TYPE_CHECKING:
    from .request import RequestView

__all__ = [
    "DPOP_MODES",
    "PROOF_ALGORITHMS",
    "DPoPMode",
    "DPoPProofs",
    "DPoPSettings",
    "Nonces",
    "ProofMemory",
    "jwk_thumbprint",
    "request_target",
]

#: ``off``: the ``DPoP`` scheme is refused (and so is every DPoP-bound token);
#: ``allowed``: bound tokens with a proof, plain tokens as bearer tokens;
#: ``required``: only DPoP-bound tokens with a proof.
DPoPMode = Literal["off", "allowed", "required"]
DPOP_MODES: tuple[str, ...] = get_args(DPoPMode)

#: Every asymmetric algorithm the guard verifies (RFC 9449 §4.2 forbids the others).
PROOF_ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA")

# A proof holds a public key and a few claims: an RSA-4096 key makes it ~1.5 KB.
_MAX_PROOF = 8192
# RFC 7638 §3.2: the members each key type's thumbprint is computed over.
_THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
}
_JTI_PREFIX = "wsgi_jwt_guard:dpop-jti:"
# Proof headers (one per client key) whose key verified a proof, and the htu and
# origins compared: past this many, each table starts over.
_KNOWN_MAX = 1024


@dataclass(frozen=True)
class DPoPSettings(Settings):
    """How DPoP proofs are checked, and the guard's default ``mode``."""

    #: The DPoP mode of every issuer that sets none, and of service tokens and
    #: API keys: ``off``, ``allowed`` or ``required`` (see :mod:`wsgi_jwt_guard.binding`).
    mode: DPoPMode = "allowed"
    #: Signature algorithms a proof may use; asymmetric only. Named in the
    #: ``algs`` of the ``DPoP`` challenge.
    algorithms: Sequence[str] = PROOF_ALGORITHMS
    #: Seconds after its ``iat`` that a proof is accepted (RFC 9449 §11.1); a
    #: proof's ``jti`` is remembered this long (plus twice the leeway).
    max_age: float = 60.0
    #: Clock skew tolerated on ``iat``, either way, in seconds (at most 300).
    leeway: float = 5.0
    #: Demand a server nonce in every proof (RFC 9449 §9): the client learns it
    #: from a ``401 use_dpop_nonce`` and its ``DPoP-Nonce`` header.
    nonce: bool = False
    #: Secrets the stateless nonces are made with (32+ characters, the first
    #: makes them, all check them); empty: the shared cache's ``secrets``. Every
    #: worker needs the same list, or one worker's nonce fails at the next.
    nonce_secrets: Sequence[str] = field(default=(), repr=False)
    #: A nonce is accepted for at least this many seconds, at most twice as long.
    nonce_lifetime: float = 300.0
    #: The public origins (``https://api.example.com``) clients reach this app
    #: at: a proof's ``htu`` must name one of them (and the request's path),
    #: whatever ``Host`` the request carries. Empty: the request's own origin.
    origins: Collection[str] = ()

    def __post_init__(self) -> None:
        algorithms = strings(self.algorithms, "algorithms", allow_one=True)
        if not algorithms:
            raise ConfigError("algorithms", "expected at least one algorithm")
        for name in algorithms:
            if name not in ASYMMETRIC_ALGORITHMS:
                raise ConfigError(
                    "algorithms",
                    f"{name!r} is not an asymmetric signature algorithm (RFC 9449 §4.2);"
                    f" choose from {list(PROOF_ALGORITHMS)}",
                )
        self._settle(
            mode=one_of(self.mode, "mode", DPOP_MODES),
            algorithms=tuple(dict.fromkeys(algorithms)),
            max_age=seconds(self.max_age, "max_age", minimum=1, maximum=3600),
            leeway=seconds(self.leeway, "leeway", maximum=300),
            nonce=flag(self.nonce, "nonce"),
            nonce_secrets=validated_secrets(self.nonce_secrets, "nonce_secrets", allow_empty=True),
            nonce_lifetime=seconds(
                self.nonce_lifetime, "nonce_lifetime", minimum=10, maximum=86400
            ),
            origins=origins(self.origins, "origins"),
        )
        if self.nonce_secrets and not self.nonce:
            raise ConfigError("nonce_secrets", "only with nonce = true")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: ``cnf.jkt``'s value.

    The hash covers the key type's required members only (RFC 7638 §3.2:
    ``crv``, ``kty``, ``x``, ``y`` for EC; ``e``, ``kty``, ``n`` for RSA;
    ``crv``, ``kty``, ``x`` for OKP), as JSON with the names in lexicographic
    order and no whitespace (§3.1, §3.3). ``ValueError`` if a member is
    missing or not a string, or the key type is another.

    RFC 8037 §A.3's example key:

    >>> x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    >>> jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": x})
    'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k'
    """
    members = _THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None:
        raise ValueError("a thumbprint needs an EC, RSA or OKP key")
    required = {name: jwk.get(name) for name in members}
    if not all(isinstance(value, str) and value for value in required.values()):
        raise ValueError("a member the thumbprint covers is missing or not a string")
    text = json.dumps(required, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url_encode(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())


def request_target(url: str) -> tuple[str, str] | None:
    """``(origin, path)`` of an absolute http(s) URL, normalized (RFC 3986 §6.2.2, §6.2.3).

    The origin is ``scheme://host[:port]``, lower-cased, without the default
    port; the path is percent-decoded (UTF-8), its dot segments removed, ``/``
    when empty. Query and fragment are dropped. ``None`` for anything else:
    a relative URL, user information, a character that is not printable ASCII.

    >>> request_target("HTTPS://API.Example.com:443/a/./b/%7Euser?q=1#top")
    ('https://api.example.com', '/a/b/~user')
    """
    if not url.isascii() or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        origin = normalize_origin(f"{parts.scheme}://{parts.netloc}")
        path = unquote_to_bytes(parts.path).decode("utf-8")
    except ValueError:  # UnicodeDecodeError too
        return None
    if origin is None:
        return None
    return origin, _without_dot_segments(path) if path else "/"


def _without_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: ``/a/b/../c/.`` -> ``/a/c/``."""
    if "/." not in path:
        return path
    segments = path.split("/")[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and kept:
                kept.pop()
            if index == len(segments) - 1:
                kept.append("")  # a final dot segment leaves the trailing slash
        else:
            kept.append(segment)
    return "/" + "/".join(kept)


class Nonces:
    """Stateless server nonces: the HMAC-SHA256 of a time bucket (RFC 9449 §8.1's
    "nonce", with the server keeping no state).

    The nonce of the current bucket (``lifetime`` seconds long) is handed out;
    the current and the previous bucket's are accepted, under every secret
    (to rotate, put the new secret first). Workers that share the secrets and
    a clock agree without talking to each other.
    """

    def __init__(
        self, secrets: Sequence[str], lifetime: float, clock: Clock = system_clock
    ) -> None:
        self._keys = [s.encode("utf-8") for s in validated_secrets(secrets, "nonce_secrets")]
        self.lifetime = lifetime
        self.clock = clock
        # (bucket, nonce handed out, nonces accepted): replaced whole, read whole.
        self._state: tuple[int, str, frozenset[str]] = (-1, "", frozenset())

    def _now(self) -> tuple[int, str, frozenset[str]]:
        bucket = int(self.clock() // self.lifetime)
        state = self._state
        if state[0] != bucket:
            accepted = frozenset(
                self._nonce(key, number) for key in self._keys for number in (bucket, bucket - 1)
            )
            state = self._state = (bucket, self._nonce(self._keys[0], bucket), accepted)
        return state

    @staticmethod
    def _nonce(key: bytes, bucket: int) -> str:
        message = b"wsgi_jwt_guard dpop nonce\0" + str(bucket).encode("ascii")
        return b64url_encode(hmac.digest(key, message, "sha256"))

    def current(self) -> str:
        """The nonce to hand out now."""
        return self._now()[1]

    def accepts(self, value: object) -> bool:
        """Whether ``value`` is a nonce of this bucket or the one before."""
        return self.judge(value)[0]

    def judge(self, value: object) -> tuple[bool, str]:
        """Whether ``value`` is accepted (:meth:`accepts`), and the nonce to hand out now."""
        _, current, accepted = self._now()
        return isinstance(value, str) and value in accepted, current


class ProofMemory:
    """The proofs this process accepted, until they expire: the replay check where
    no shared cache can hold them (see the module docs).

    Each proof is a 64-bit name (from SHA-256: a chance collision among a
    million proofs is about one in 10^7) filed under the second it expires;
    whole seconds are dropped as they pass, so a claim costs a set lookup. At
    ``limit`` names -- about 50 MB, a rate of proofs no single process
    verifies within a proof's lifetime -- new proofs are refused rather than
    old ones forgotten early.
    """

    def __init__(self, limit: int = 500_000) -> None:
        self.limit = limit
        self._names: set[int] = set()
        self._by_second: dict[int, list[int]] = {}
        self._seconds: list[int] = []  # a heap of the keys of _by_second
        self._lock = threading.Lock()

    def claim(self, name: int, until: float, now: float) -> bool | None:
        """``True`` the first time ``name`` is claimed before ``until``; ``False``
        after; ``None`` if this memory is full."""
        with self._lock:
            seconds = self._seconds
            while seconds and seconds[0] <= now:
                self._names.difference_update(self._by_second.pop(heapq.heappop(seconds)))
            if name in self._names:
                return False
            if len(self._names) >= self.limit:
                return None
            self._names.add(name)
            second = math.ceil(until)
            names = self._by_second.get(second)
            if names is None:
                names = self._by_second[second] = []
                heapq.heappush(seconds, second)
            names.append(name)
            return True

    def __len__(self) -> int:
        return len(self._names)


class DPoPProofs:
    """Checks the ``DPoP`` proof of a request that presents a DPoP-bound token.

    Built once by the guard; :meth:`verify` is the per-request step. A
    :class:`~wsgi_jwt_guard.errors.ConfigError` if nonces are on with no secret
    to make them (neither ``nonce_secrets`` nor the cache's ``secrets``).
    """

    def __init__(
        self,
        settings: DPoPSettings,
        *,
        cache: SharedCache | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.settings = settings
        self.cache = cache if isinstance(cache, SharedCache) else SharedCache(cache, clock=clock)
        self.clock = clock
        self._algorithms = frozenset(settings.algorithms)
        #: The server nonces, when proofs must carry one.
        self.nonces: Nonces | None = None
        if settings.nonce:
            secrets = settings.nonce_secrets or self.cache.secrets
            if not secrets:
                raise ConfigError(
                    "dpop.nonce_secrets",
                    "nonces need a secret all workers share: set nonce_secrets or [cache] secrets",
                )
            self.nonces = Nonces(secrets, settings.nonce_lifetime, clock)
        # Header segment -> (header, key, thumbprint) of proofs that verified.
        self._known: dict[str, tuple[dict[str, Any], PinnedKey, str]] = {}
        self._lock = threading.Lock()
        # Normalizing a URL costs more than the rest of a proof's claims: each
        # htu and each request origin is worked out once.
        self._targets: dict[str, tuple[str, str]] = {}
        self._origins: dict[tuple[object, ...], str] = {}
        # Replays are caught in the shared cache only if its add is atomic and
        # it keeps entries until they expire; else (and while it is down) here.
        self._shared = self.cache.is_shared and not isinstance(
            self.cache.shared, (FileSystemCache, SimpleCache)
        )
        #: The proofs this process accepted, when the shared cache cannot take them.
        self.memory = ProofMemory()

    @property
    def challenge_algorithms(self) -> str:
        """The ``algs`` of the ``DPoP`` challenge: ``"ES256 PS256"``."""
        return " ".join(self.settings.algorithms)

    def verify(self, request: RequestView, token: str, jkt: str) -> None:
        """Check the request's proof for ``token``, bound to the key whose thumbprint
        is ``jkt``; raise :class:`~wsgi_jwt_guard.errors.InvalidDPoPProof` or
        :class:`~wsgi_jwt_guard.errors.UseDPoPNonce` saying why not."""
        proof = _proof_of(request.environ)
        head = proof[: proof.find(".")]
        known = self._known.get(head)
        try:
            jws = parse(proof, None if known is None else {head: known[0]}, embedded_key=True)
        except InvalidToken as refused:  # its reasons name "the token"
            reason = refused.description.replace("the token", "the DPoP proof", 1)
            raise InvalidDPoPProof(reason) from None
        key, thumbprint = known[1:] if known is not None else self._key_of(jws.header)
        if not hmac.compare_digest(thumbprint.encode(), jkt.encode("utf-8", "surrogatepass")):
            raise InvalidDPoPProof("the DPoP proof is signed by another key than the token's")
        if not key.verify(jws.signing_input, jws.signature):
            raise InvalidDPoPProof("the DPoP proof's signature does not verify")
        claims = jws.claims
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidDPoPProof("the DPoP proof has no 'jti'")
        if claims.get("htm") != request.method or len(request.methods) != 1:
            raise InvalidDPoPProof("the DPoP proof was made for another method ('htm')")
        if not self._is_request_url(claims.get("htu"), request):
            raise InvalidDPoPProof("the DPoP proof was made for another URL ('htu')")
        lifetime = self._check_iat(claims.get("iat"))
        ath = claims.get("ath")
        expected = b64url_encode(hashlib.sha256(token.encode("ascii")).digest())
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath.encode("utf-8", "surrogatepass"), expected.encode()
        ):
            raise InvalidDPoPProof("the DPoP proof was made for another access token ('ath')")
        if self.nonces is not None:
            self._check_nonce(claims.get("nonce"), request)
        # Last, once everything else holds: a refused proof does not use up its jti.
        self._claim(hashlib.sha256(f"{jkt}\0{jti}".encode("utf-8", "surrogatepass")), lifetime)
        if known is None:
            self._remember(self._known, head, (jws.header, key, thumbprint))

    def _check_nonce(self, nonce: object, request: RequestView) -> None:
        """Refuse a proof without a nonce the guard handed out; renew one from the
        previous period on the response (RFC 9449 §8.2), so a client that keeps
        the nonce it is given never meets the refusal of an expired one."""
        assert self.nonces is not None
        accepted, current = self.nonces.judge(nonce)
        if not accepted:
            raise UseDPoPNonce(
                "the DPoP proof must carry the nonce of the DPoP-Nonce header", nonce=current
            )
        if nonce != current:
            request.response_headers += (("DPoP-Nonce", current),)

    def _is_request_url(self, htu: object, request: RequestView) -> bool:
        """Whether ``htu`` names the request's URL, both normalized (RFC 9449 §4.3 point 9)."""
        if not isinstance(htu, str):
            return False
        target = self._targets.get(htu)
        if target is None:  # ("", ""): not a URL, never equal to a request's
            target = request_target(htu) or ("", "")
            self._remember(self._targets, htu, target)
        if target[1] != request.path:
            return False
        if self.settings.origins:
            return target[0] in self.settings.origins
        environ = request.environ
        host: tuple[object, ...] = (environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"))
        if host[1] is None:  # the server's name and port then (werkzeug's get_host)
            host += (environ.get("SERVER_NAME"), environ.get("SERVER_PORT"))
        origin = self._origins.get(host)
        if origin is None:  # "": no origin
            origin = request.own_origin() or ""
            self._remember(self._origins, host, origin)
        return bool(origin) and target[0] == origin

    def _claim(self, digest: Any, lifetime: int) -> None:
        """Claim a proof's ``jti`` once: in the shared cache, or this process's memory."""
        claimed = None
        if self._shared:
            claimed = self.cache.add_shared(_JTI_PREFIX + digest.hexdigest(), "1", lifetime)
        if claimed is None:  # no shared cache fit for it, or it is down
            now, name = self.clock(), int.from_bytes(digest.digest()[:8], "big")
            claimed = self.memory.claim(name, now + lifetime, now)
            if claimed is None:
                raise InvalidDPoPProof("the guard holds too many recent DPoP proofs to take more")
        if not claimed:
            raise InvalidDPoPProof("the DPoP proof was used before ('jti')")

    def _key_of(self, header: Mapping[str, Any]) -> tuple[PinnedKey, str]:
        """The key of a proof header not seen before, and its thumbprint."""
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower().removeprefix("application/") != "dpop+jwt":
            raise InvalidDPoPProof("the DPoP proof's 'typ' is not 'dpop+jwt'")
        alg = header["alg"]
        if alg not in self._algorithms:
            raise InvalidDPoPProof("the DPoP proof's algorithm is not accepted")
        jwk = header["jwk"]
        if PRIVATE_MEMBERS.intersection(jwk):
            raise InvalidDPoPProof("the DPoP proof's 'jwk' holds a private key")
        try:
            _check_members(jwk)
            thumbprint = jwk_thumbprint(jwk)
            return pin_jwk(jwk, (alg,)), thumbprint
        except (ConfigError, ValueError):
            raise InvalidDPoPProof("the DPoP proof's 'jwk' is no key for its 'alg'") from None

    def _check_iat(self, iat: object) -> int:
        """Refuse an ``iat`` outside the window; the seconds its ``jti`` must be kept."""
        if type(iat) not in (int, float) or not math.isfinite(iat):  # type: ignore[arg-type]
            raise InvalidDPoPProof("the DPoP proof has no numeric 'iat'")
        now, issued = self.clock(), float(iat)  # type: ignore[arg-type]
        settings = self.settings
        if issued > now + settings.leeway:
            raise InvalidDPoPProof("the DPoP proof was issued in the future ('iat')")
        last = issued + settings.max_age + settings.leeway  # the last moment it is accepted
        if now > last:
            raise InvalidDPoPProof("the DPoP proof is too old ('iat')")
        return max(1, math.ceil(last - now) + 1)

    def _remember(self, table: dict[Any, Any], key: object, value: object) -> None:
        with self._lock:
            if len(table) >= _KNOWN_MAX:
                table.clear()
            table[key] = value


def _proof_of(environ: Mapping[str, Any]) -> str:
    """The one ``DPoP`` header's value (RFC 9449 §4.3 points 1 and 2)."""
    value = environ.get("HTTP_DPOP")
    if not isinstance(value, str) or not value.strip(" \t"):
        raise InvalidDPoPProof("the request has no DPoP proof (the 'DPoP' header)")
    if len(value) > _MAX_PROOF:
        raise InvalidDPoPProof(f"the DPoP proof is longer than {_MAX_PROOF} characters")
    if "," in value:  # a JWS holds none: servers joined repeated headers
        raise InvalidDPoPProof("the request has more than one DPoP header")
    return value.strip(" \t")


def _check_members(jwk: Mapping[str, Any]) -> None:
    """Key members in canonical unpadded base64url (one spelling, one thumbprint),
    EC coordinates at their curve's full size (RFC 7518 §6.2.1.2)."""
    kty = jwk.get("kty")
    names: Collection[str] = _THUMBPRINT_MEMBERS.get(kty, ())  # type: ignore[arg-type]
    for name in names:
        if name not in ("kty", "crv"):
            value = jwk.get(name)
            b64url_decode(value if isinstance(value, str) else "")  # ValueError if not
    if kty == "EC":
        algorithm = ec_algorithm(str(jwk.get("crv")))
        if algorithm is None:
            raise ValueError("an unsupported curve")
        size = (ec_curve(algorithm).key_size + 7) // 8
        if len(b64url_decode(jwk["x"])) != size or len(b64url_decode(jwk["y"])) != size:
            raise ValueError("an EC coordinate of the wrong size")
