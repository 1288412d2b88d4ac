"""The guard's answer to a refusal -- for the app's own views too.

The guard answers each request it refuses itself: the status, a JSON (or
problem details) body, and a ``WWW-Authenticate`` challenge with its ``realm``,
the URL of its RFC 9728 metadata document and the schemes the route accepts
(``Bearer``; ``DPoP`` and its ``algs``). See :mod:`wsgi_jwt_guard.responses`.

A view can refuse too, after the guard let an anonymous request through (a
public route, or an ``optional`` one without a token): the Flask and Bottle
adapters' ``requires`` does. A client must not be able to tell that 401 from
the guard's own -- an MCP client looks for ``resource_metadata`` on every 401,
a DPoP client for ``algs`` -- so the guard puts its :class:`Answers` in the
environ of every request it lets through anonymously, under
:data:`ANSWERS_KEY`, and a view answers with it::

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

Requests with an identity do not carry it: one more environ key on every
request costs a dict resize on many (callgrind: +5 % on a repeat token). A
view's 403 (a scope it requires) names the scheme the client used, the
adapter's ``realm`` and the missing ``scope``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from .errors import RequestRefused
from .request import RequestView, normalize_path
from .responses import Challenges, refuse

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .binding import SenderBinding
    from .metadata import MetadataEndpoint
    from .routing import RouteTable

__all__ = ["ANSWERS_KEY", "Answers"]

#: The environ key of the guard's :class:`Answers` (set on every request).
ANSWERS_KEY = "wsgi_jwt_guard.answers"


class Answers:
    """How one guard answers refusals: its realm, its metadata URL, its routes' schemes.

    Built once by the guard; calling it answers one of the guard's own
    refusals, whose challenges the guard has already worked out.
    """

    def __init__(
        self,
        realm: str,
        metadata: MetadataEndpoint | None,
        routes: RouteTable,
        binding: SenderBinding,
        mount: str = "",
    ) -> None:
        self.realm = realm
        #: The RFC 9728 document's URL that challenges name, if the guard serves one.
        self.resource_metadata = None if metadata is None else metadata.url
        self.routes = routes
        self.binding = binding
        self.mount = mount

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
