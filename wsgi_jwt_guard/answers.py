"""The guard's answer to a refusal -- for the app's own views too.

The guard answers each request it refuses itself: the status, a JSON (or
problem details) body, and a ``WWW-Authenticate`` challenge with its ``realm``,
the URL of its RFC 9728 metadata document and the schemes the route accepts
(``Bearer``; ``DPoP`` and its ``algs``). See :mod:`wsgi_jwt_guard.responses`.

A view can refuse too, after the guard let the request through: the Flask
and Bottle adapters' ``requires`` does, with a 401 on an anonymous request (a
public route, or an ``optional`` one without a token) and a 403 for a scope
or claim the view requires. A client must not be able to tell those from the
guard's own -- an MCP client looks for ``resource_metadata`` on every 401 and
on a 403 to step up, a DPoP client for ``algs`` -- so the guard hands its
:class:`Answers` to the app under :data:`ANSWERS_KEY`, and a view answers
with it::

    from wsgi_jwt_guard import MissingToken
    from wsgi_jwt_guard.answers import ANSWERS_KEY

    def report(environ, start_response):          # a plain WSGI view
        if environ.get("REMOTE_USER") is None:
            refusal = MissingToken("sign in to see reports")
            return environ[ANSWERS_KEY].for_view(refusal, environ, start_response)
        ...

The Flask and Bottle adapters do this for you. The route is found again from
``SCRIPT_NAME + PATH_INFO`` as the view sees them, which is still the path the
guard routed on when a dispatcher behind the guard has moved the prefix into
``SCRIPT_NAME``.

Anonymous requests always carry it. Requests with an identity carry it when
the guard has a ``realm`` of its own or serves RFC 9728 metadata
(:attr:`Answers.for_identities`); otherwise a view's 403 has nothing to name
that the adapter does not know (the scheme the client used, the default
realm, the ``scope``), and one more environ key on every request is not free:
it can resize the environ dict (callgrind: +5 % on a repeat token with
werkzeug's test environ; see ``BENCHMARKS.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from .clock import Clock, system_clock
from .errors import InvalidToken, PreflightRefused, RequestRefused
from .metrics import reason_of
from .request import RequestView, normalize_path
from .responses import Challenges, log_refusal, refuse

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .binding import SenderBinding
    from .cookies import TokenCookie
    from .cors import CORSSettings
    from .metadata import MetadataEndpoint
    from .metrics import Metrics
    from .routing import RouteTable

__all__ = ["ANSWERS_KEY", "DEFAULT_REALM", "Answers"]

#: The environ key of the guard's :class:`Answers` (see the module docs for when).
ANSWERS_KEY = "wsgi_jwt_guard.answers"
#: The guard's default ``realm`` (and the adapters').
DEFAULT_REALM = "wsgi-jwt-guard"


class Answers:
    """How one guard answers refusals: its realm, its metadata URL, its routes' schemes.

    Built once by the guard, with what its refusals also carry: CORS headers,
    the clearing of a refused cookie, a counter and a log line (:meth:`refuse`).
    """

    def __init__(
        self,
        realm: str,
        metadata: MetadataEndpoint | None,
        routes: RouteTable,
        binding: SenderBinding,
        mount: str = "",
        *,
        metrics: Metrics | None = None,
        cors: CORSSettings | None = None,
        token_cookie: TokenCookie | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.realm = realm
        #: The RFC 9728 document's URL that challenges name, if the guard serves one.
        self.resource_metadata = None if metadata is None else metadata.url
        self.routes = routes
        self.binding = binding
        self.mount = mount
        self.metrics = metrics
        self.cors = cors
        self.token_cookie = token_cookie
        self.clock = clock
        #: Whether requests with an identity carry :data:`ANSWERS_KEY` too: only when a
        #: view's 403 has something to name that the adapter cannot know.
        self.for_identities = realm != DEFAULT_REALM or self.resource_metadata is not None

    def refuse(
        self, refusal: RequestRefused, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        """Answer one of the guard's own refusals: counted, logged, and answered."""
        reason = reason_of(type(refusal))
        if self.metrics is not None:
            self.metrics.increment(f"requests.refused.{reason}")
        log_refusal(refusal, environ, reason, self.clock)
        extra = []
        # A refused preflight grants nothing; other refusals stay readable cross-origin.
        if self.cors is not None and not isinstance(refusal, PreflightRefused):
            extra += self.cors.answer_headers(environ.get("HTTP_ORIGIN")) or []
        cookie = self.token_cookie
        if cookie is not None and isinstance(refusal, InvalidToken) and refusal.source == "cookie":
            # Cleared, or the browser sends it (expired, say) until it drops it.
            extra.append(("Set-Cookie", cookie.clearing(environ)))
        return self(refusal, environ, start_response, extra_headers=extra)

    def __call__(
        self,
        refusal: RequestRefused,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        *,
        extra_headers: Iterable[tuple[str, str]] = (),
    ) -> list[bytes]:
        """Answer ``refusal`` (see :func:`~wsgi_jwt_guard.responses.refuse`)."""
        return refuse(
            refusal,
            environ,
            start_response,
            realm=self.realm,
            resource_metadata=self.resource_metadata,
            extra_headers=extra_headers,
        )

    def for_view(
        self, refusal: RequestRefused, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        """Answer a view's ``refusal`` as the guard answers its own on that route."""
        if refusal.challenges is None:
            refusal.challenges = self.challenges(environ)
        return self(refusal, environ, start_response)

    def challenges(self, environ: WSGIEnvironment) -> Challenges:
        """The schemes the guard challenges on the route of ``environ`` (as a view sees it)."""
        full = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
        rule = self.routes.default  # what the guard applies where it cannot tell
        if full.startswith(self.mount):
            seen = {**environ, "SCRIPT_NAME": self.mount, "PATH_INFO": full[len(self.mount) :]}
            try:
                # The guard has checked the path's length: this is the longest it allows.
                request = RequestView(seen, normalize_path(seen, self.mount, 2**20))
                rule = self.routes.resolve(request)[0]
            except RequestRefused:  # the guard let it through: not expected, and not fatal
                request = RequestView(seen, "/")
        else:
            request = RequestView(environ, "/")
        challenges = self.binding.challenges(rule, request)
        # The guard set AUTH_TYPE (and scrubs any a client sends); ``forward_token = false``
        # may have taken the Authorization header the binding looks at.
        if environ.get("AUTH_TYPE") == "DPoP" and not challenges.dpop_request:
            challenges = replace(challenges, dpop_request=True)
        return challenges
