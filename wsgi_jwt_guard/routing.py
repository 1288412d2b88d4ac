"""Which policy applies to a request: the path-prefix table.

A :class:`RouteTable` maps path prefixes to :class:`Rule` objects::

    table = RouteTable(
        {
            "/api/auth": "public",
            "/api/techdocs": Rule("protected", unless=[r"/api/techdocs/static/docs/.+\\.css"]),
            "/api/catalog": Rule("protected", scopes=["catalog.read"]),
            "/api/search": Rule("optional", unless_methods=["OPTIONS"]),
        },
        default="protected",
    )

Matching rules, all chosen to fail closed:

* The path matched is the one the wrapped app routes on: ``PATH_INFO``, as the
  server decoded it. Every WSGI router (Flask, Django, Pyramid, Bottle,
  ``DispatcherMiddleware``) dispatches on ``PATH_INFO`` and treats
  ``SCRIPT_NAME`` as where the app is mounted, so the guard must too. A client
  can set ``SCRIPT_NAME`` through some servers (gunicorn honours a
  ``SCRIPT_NAME`` request header from its trusted forwarders, 127.0.0.1 by
  default): the guard accepts only the ``SCRIPT_NAME`` the deployment
  configured as its ``mount`` (``""`` unless set) and refuses any other with
  ``400``. Route prefixes are full paths, ``mount + PATH_INFO``, so a route
  table means the same inside a ``DispatcherMiddleware`` mount as around it.
  The query string, ``RAW_URI`` and ``REQUEST_URI`` are never read.
* The longest prefix wins, and a prefix only matches on a segment boundary:
  ``/api/auth`` matches ``/api/auth``, ``/api/auth/`` and ``/api/auth/x``, never
  ``/api/authx`` or ``/api/auth.json``. Matching is case-sensitive. A lookup
  costs time linear in the path, and paths longer than ``max_path_length``
  (8 KiB by default) are refused with ``414`` before anything else is done.
* A path the guard and the app could read differently is refused with ``400``
  rather than "resolved": dot segments (``/a/../b``), repeated slashes
  (``/a//b``), still-encoded ``%2e``/``%2f``/``%5c``/``%00``/``%3b``/``%25XX`` after decoding
  (double encoding), backslashes, control characters and invalid UTF-8. The
  guard never rewrites the path the app sees, so refusing is the only way to
  be sure both agree on which route was asked for.
* Readings other servers or frameworks apply are checked too, and a path is
  refused with ``400`` when they would change the answer: servlet-style path
  parameters (``/api/auth/..;/catalog``, ``/docs/x;.css``) must not change the
  rule or policy, and a non-ASCII path must stay safe after NFKC (two
  full-width dots, U+FF0E, are a ``..`` segment to some stacks).
* Method exemptions (``unless_methods``) hold only if every method the request
  names does: a ``X-HTTP-Method-Override: DELETE`` on an ``OPTIONS`` request is
  not a preflight. ``OPTIONS`` is special: Django and Pyramid run the normal
  view for it, so an exempt ``OPTIONS`` never reaches the app anonymously.
  The guard answers a CORS preflight itself (:mod:`wsgi_jwt_guard.cors`), and
  any other ``OPTIONS`` follows the route's policy. ``HEAD`` runs the ``GET``
  view in every framework, so it can only be exempt together with ``GET``.
* A path no prefix matches gets the table's default, ``protected`` unless set.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from .claims import ClaimRequirement, claim_requirements
from .dpop import DPOP_MODES, DPoPMode
from .errors import ConfigError, InsufficientScope, InvalidToken, UnsafePath
from .identity import Identity, TokenKind
from .request import UNSAFE_PATH
from .validation import Settings, flag, names, one_of, scopes, strings

if TYPE_CHECKING:
    from .request import RequestView

__all__ = ["Policy", "RouteTable", "Rule", "check_mount"]

#: ``public``: no token needed (a token sent is ignored). ``protected``: a valid
#: token is required. ``optional``: no token means anonymous, a valid token is
#: used, an invalid one is refused (never silently anonymous).
Policy = Literal["public", "protected", "optional"]
POLICIES: tuple[str, ...] = get_args(Policy)
TOKEN_KINDS: tuple[str, ...] = get_args(TokenKind)


@dataclass(frozen=True)
class Rule(Settings):
    """What one path prefix demands. Validated when built; raises :class:`ConfigError`."""

    policy: Policy = "protected"
    #: Regular expressions; a path that fully matches one is public.
    unless: Sequence[str] = ()
    #: Methods that are public on this route. ``OPTIONS`` means "the guard
    #: answers CORS preflights here" (see :mod:`wsgi_jwt_guard.cors`); ``HEAD``
    #: needs ``GET`` too, since every framework runs the ``GET`` view for it.
    unless_methods: Collection[str] = ()
    #: Whether the token cookie is accepted here (the ``Authorization`` header always is).
    cookie: bool = True
    #: Which token kinds this route accepts; another kind is refused with 403.
    #: A ``limited-user`` token is refused with 401 unless ``user_cookie`` is on.
    tokens: Collection[TokenKind] = TOKEN_KINDS  # type: ignore[assignment]
    #: Claims the token must carry, all of them, keyed by claim path
    #: (``realm_access.roles``; a name holding dots in double quotes,
    #: ``'"https://example.com/roles"'``). A value must be equal, or contained in
    #: a list claim; a list value must be contained entirely (all of);
    #: ``{"any": [...]}`` needs one of its values. Failing is 403.
    claims: Mapping[str, Any] = field(default_factory=dict)
    #: Alternatives: the token must meet at least one of these ``claims``
    #: tables (each entirely), besides ``claims``. Failing is 403.
    claims_any: Sequence[Mapping[str, Any]] = ()
    #: Scopes that must all be granted, by ``scope``/``scp`` (space separated or
    #: a list) or ``permissions`` (a list), or the issuer's ``scope_claims``.
    #: Each is an RFC 6749 scope-token (printable ASCII; no space, quote or
    #: backslash). Failing is 403, whose challenge names them all (``scope``).
    scopes: Collection[str] = ()
    #: Backstage mode: accept Backstage's ``backstage-auth`` cookie here, and the
    #: limited-user token it holds (as cookie or bearer), as Backstage's
    #: ``allow: 'user-cookie'`` does (:mod:`wsgi_jwt_guard.backstage`).
    user_cookie: bool = False
    #: DPoP here (:mod:`wsgi_jwt_guard.binding`), on top of the token's issuer's
    #: mode: ``required`` refuses plain tokens, ``off`` the ``DPoP`` scheme;
    #: ``None`` (or ``allowed``) adds nothing.
    dpop: DPoPMode | None = None
    _patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    #: Whether any exemption (path or method) can change the policy.
    _exempting: bool = field(init=False, repr=False, compare=False)
    _claims: tuple[ClaimRequirement, ...] = field(init=False, repr=False, compare=False)
    _claims_any: tuple[tuple[ClaimRequirement, ...], ...] = field(
        init=False, repr=False, compare=False
    )
    #: ``scopes`` as a 403 names them (RFC 6750 §3 ``scope``): sorted, space separated.
    _scope: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        one_of(self.policy, "policy", POLICIES)
        if isinstance(self.unless, str):
            raise ConfigError("unless", "expected a list of regular expressions, not a string")
        patterns = []
        for index, pattern in enumerate(self.unless):
            if not isinstance(pattern, str):  # a bytes pattern would fail on every request
                raise ConfigError(f"unless[{index}]", "expected a regular expression string")
            try:
                patterns.append(re.compile(pattern))
            except re.error as exc:
                raise ConfigError(f"unless[{index}]", f"bad regular expression: {exc}") from None
        methods = strings(self.unless_methods, "unless_methods")
        if not all(method.isascii() and method.isalpha() for method in methods):
            raise ConfigError("unless_methods", "expected a list of HTTP method names")
        exempt = frozenset(method.upper() for method in methods)
        if "HEAD" in exempt and "GET" not in exempt:
            raise ConfigError(
                "unless_methods", "HEAD runs the GET view in every framework: exempt GET too"
            )
        tokens = (self.tokens,) if isinstance(self.tokens, str) else self.tokens
        if not tokens:
            raise ConfigError("tokens", f"expected a non-empty list drawn from {TOKEN_KINDS}")
        if isinstance(self.claims_any, (str, Mapping)) or not isinstance(self.claims_any, Sequence):
            raise ConfigError("claims_any", "expected a list of claims tables (one must be met)")
        alternatives = tuple(
            claim_requirements(table, f"claims_any[{index}]")
            for index, table in enumerate(self.claims_any)
        )
        if any(not alternative for alternative in alternatives):
            raise ConfigError("claims_any", "an empty table would be met by every token")
        self._settle(
            _patterns=tuple(patterns),
            _exempting=bool(patterns or exempt),
            _claims=claim_requirements(self.claims, "claims"),
            _claims_any=alternatives,
            claims_any=tuple(dict(table) for table in self.claims_any),
            unless_methods=exempt,
            cookie=flag(self.cookie, "cookie"),
            user_cookie=flag(self.user_cookie, "user_cookie"),
            dpop=None if self.dpop is None else one_of(self.dpop, "dpop", DPOP_MODES),
            tokens=names(tokens, "tokens", TOKEN_KINDS),
            claims=dict(self.claims),
            scopes=frozenset(scopes(self.scopes, "scopes")),
        )
        self._settle(_scope=" ".join(sorted(self.scopes)) or None)
        if self.user_cookie and "limited-user" not in self.tokens:
            raise ConfigError("tokens", "user_cookie accepts limited-user tokens: list them too")

    @property
    def answers_preflight(self) -> bool:
        """Whether the guard answers CORS preflights on this route (``OPTIONS`` exempt)."""
        return "OPTIONS" in self.unless_methods

    def policy_for(self, path: str, method: str) -> Policy:
        """The policy for this request, after the method and path exemptions.

        An exempt ``OPTIONS`` is not made public here: the middleware answers
        a genuine preflight itself and anything else keeps the route's policy.
        """
        if method in self.unless_methods and method != "OPTIONS":
            return "public"
        for pattern in self._patterns:
            if pattern.fullmatch(path):
                return "public"
        return self.policy

    def authorize(self, identity: Identity) -> None:
        """Raise :class:`InsufficientScope` unless this route accepts ``identity``."""
        if identity.kind == "limited-user" and not self.user_cookie:
            # Backstage's "Illegal limited user token": a 401, as a bad token.
            raise InvalidToken("a limited user token is accepted only where user_cookie is on")
        if identity.kind not in self.tokens:
            raise InsufficientScope(f"{identity.kind} tokens are not accepted on this route")
        claims = identity.claims
        if self._claims:  # tested first: no iterator on the rules without claims
            for requirement in self._claims:
                if not requirement.met_by(claims):
                    raise InsufficientScope(f"token lacks the required {requirement.key!r} claim")
        if self._claims_any and not any(
            all(requirement.met_by(claims) for requirement in alternative)
            for alternative in self._claims_any
        ):
            raise InsufficientScope("token meets none of the claims_any alternatives")
        if self.scopes:
            granted = identity.scopes
            if granted is None or not granted.issuperset(self.scopes):
                raise InsufficientScope("token lacks a required scope", scope=self._scope)


def _as_rule(value: Rule | str, key: str) -> Rule:
    if isinstance(value, Rule):
        return value
    if isinstance(value, str):
        try:
            return Rule(value)  # type: ignore[arg-type]  # validated by Rule
        except ConfigError as exc:
            raise exc.within(key) from None
    raise ConfigError(key, "expected a policy name or a Rule")


class RouteTable:
    """Path prefixes compiled into a dict.

    A lookup probes the dict once per distinct prefix length in the table,
    longest first, so its cost depends on the table and never grows with the
    number of segments in the path an attacker sends.
    """

    def __init__(
        self,
        routes: Mapping[str, Rule | Policy] | None = None,
        *,
        default: Rule | Policy = "protected",
    ) -> None:
        self.default = _as_rule(default, "default")
        if routes is not None and not isinstance(routes, Mapping):
            raise ConfigError("routes", "expected a mapping of path prefixes to policies")
        self._rules: dict[str, Rule] = {}
        for prefix, value in (routes or {}).items():
            key = f"routes.{prefix!r}"
            normalized = _normalize_prefix(prefix, key)
            if normalized in self._rules:
                raise ConfigError(key, f"duplicates the route {normalized!r}")
            self._rules[normalized] = _as_rule(value, key)
        self._root = self._rules.get("/", self.default)
        self._lengths = sorted({len(p) for p in self._rules if p != "/"}, reverse=True)

    def resolve(self, request: RequestView) -> tuple[Rule, Policy]:
        """The rule and policy for a request; :class:`UnsafePath` if its path is ambiguous."""
        path = request.path
        rule = self.match(path)
        policy = _policy(rule, path, request) if rule._exempting else rule.policy
        if ";" in path:
            # Servlet containers (and proxies to them) drop ";params" from each
            # segment; refuse when that reading would take another route.
            plain = _PATH_PARAMETERS.sub("", path)
            if UNSAFE_PATH.search(plain):
                raise UnsafePath("the request path hides a '.'/'..' segment or '//' behind ';'")
            other = self.match(plain)
            if other is not rule or _policy(other, plain, request) != policy:
                raise UnsafePath("the request path's ';' parameters change which route it takes")
        return rule, policy

    def match(self, path: str) -> Rule:
        """The rule of the longest prefix of ``path`` on a segment boundary."""
        rules = self._rules
        size = len(path)
        for length in self._lengths:
            if length > size or (length < size and path[length] != "/"):
                continue
            rule = rules.get(path[:length] if length < size else path)
            if rule is not None:
                return rule
        return self._root

    def check_preflights_answered(self, *, by_the_guard: bool = False) -> None:
        """Refuse ``OPTIONS`` exemptions unless the guard answers preflights
        (``by_the_guard``: it has CORS settings); otherwise nobody answers them.

        The guard answers CORS preflights itself and never passes an anonymous
        ``OPTIONS`` to the app (Django and Pyramid run the view body for it).
        """
        if by_the_guard:
            return
        for prefix, rule in [*self._rules.items(), ("", self.default)]:
            if rule.answers_preflight:
                key = f"routes.{prefix!r}" if prefix else "default"
                raise ConfigError(
                    f"{key}.unless_methods",
                    "OPTIONS: the guard answers CORS preflights itself and never passes an"
                    " anonymous OPTIONS to the app; configure cors (allowed origins)",
                )

    @property
    def rules(self) -> Mapping[str, Rule]:
        """The normalized prefixes and their rules (the default not included)."""
        return dict(self._rules)

    @property
    def scopes(self) -> list[str]:
        """Every scope a rule that is not public requires, the default's included, sorted."""
        rules = [*self._rules.values(), self.default]
        return sorted({scope for rule in rules if rule.policy != "public" for scope in rule.scopes})

    def __repr__(self) -> str:
        return f"RouteTable({self._rules!r}, default={self.default!r})"


def _normalize_prefix(prefix: object, key: str) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ConfigError(key, "a route prefix must be a string starting with '/'")
    if UNSAFE_PATH.search(prefix) or "?" in prefix or "#" in prefix:
        raise ConfigError(key, "a route prefix must be a plain, normalized path")
    return prefix if prefix == "/" else prefix.removesuffix("/")


def check_mount(mount: object) -> str:
    """Validate the ``mount`` setting: ``""`` or a plain path such as ``/api``."""
    if not isinstance(mount, str) or (
        mount and (not mount.startswith("/") or mount.endswith("/") or not mount.isascii())
    ):
        raise ConfigError("mount", "expected '' or a path such as '/api' (no trailing '/')")
    if UNSAFE_PATH.search(mount) or "?" in mount or "#" in mount or ";" in mount:
        raise ConfigError("mount", "expected a plain, normalized path")
    return mount


_PATH_PARAMETERS = re.compile(r";[^/]*")


def _policy(rule: Rule, path: str, request: RequestView) -> Policy:
    method = request.method
    policy = rule.policy_for(path, method)
    # Exempt by method only if no override header names another method.
    if (
        policy == "public"
        and method in rule.unless_methods
        and not request.methods.issubset(rule.unless_methods)
    ):
        return rule.policy_for(path, "")
    return policy
