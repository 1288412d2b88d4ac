"""Django: an authentication backend that trusts only the guard's verified ``REMOTE_USER``.

Django's documented way to sit behind an authenticating front end is
``RemoteUserMiddleware`` with a ``RemoteUserBackend``; :class:`GuardBackend`
is that backend, made for the guard. In ``settings.py``::

    MIDDLEWARE = [
        ...,
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.auth.middleware.RemoteUserMiddleware",  # after Authentication
        ...,
    ]
    AUTHENTICATION_BACKENDS = ["wsgi_jwt_guard.adapters.django.GuardBackend"]

    # Optional: Django groups that follow the token's claims (only these groups
    # are ever added or removed; the values read like a guard rule's).
    WSGI_JWT_GUARD_GROUPS = {
        "catalog-admins": {"claims": {"ent": "group:default/admins"}},
        "editors": {"scopes": ["catalog.write"]},
    }
    # Optional: only users that already exist may log in (default True: create them).
    WSGI_JWT_GUARD_CREATE_UNKNOWN_USER = False

and in ``wsgi.py``, the guard around Django::

    application = from_config(get_wsgi_application(), "guard.toml")

Views then use ``request.user`` as always, and
``wsgi_jwt_guard.get_identity(request.META)`` for the claims.

The backend logs a user in only if the request carries the identity the
guard verified and ``REMOTE_USER`` is its subject. ``REMOTE_USER`` from
anywhere else -- the guard missing from ``wsgi.py``, a web server's own
authentication, a ``RemoteUserMiddleware`` subclass reading a header -- is
refused (Django's ``PermissionDenied``: the request stays anonymous and no
other backend is tried) with an ERROR on the ``wsgi_jwt_guard`` logger that
says what to fix.

Groups and ``create_unknown_user`` apply when ``RemoteUserMiddleware``
logs the user in: on the first request of a session, and again whenever the
token's subject changes. A session outlives a change of claims under the
same subject until it ends (``SESSION_COOKIE_AGE``); keep sessions short, or
read claims from ``get_identity(request.META)``, where they must be current.
Subclass :class:`GuardBackend` as any ``RemoteUserBackend`` (``clean_username``,
``configure_user``, or ``create_unknown_user = False``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.backends import RemoteUserBackend
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, PermissionDenied

from ..errors import ConfigError
from ..identity import get_identity
from ._requirement import Requirement, requirement_from

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

__all__ = ["GuardBackend"]

log = logging.getLogger("wsgi_jwt_guard")

GROUPS_SETTING = "WSGI_JWT_GUARD_GROUPS"
CREATE_SETTING = "WSGI_JWT_GUARD_CREATE_UNKNOWN_USER"


class GuardBackend(RemoteUserBackend):  # type: ignore[misc]  # Django ships no types
    """``RemoteUserBackend`` for the guard: a verified identity, optional claim-mapped groups."""

    @property
    def create_unknown_user(self) -> bool:
        """``WSGI_JWT_GUARD_CREATE_UNKNOWN_USER`` (default ``True``, as Django's)."""
        value = getattr(settings, CREATE_SETTING, True)
        if not isinstance(value, bool):
            raise ImproperlyConfigured(f"{CREATE_SETTING} must be True or False")
        return value

    def authenticate(
        self, request: HttpRequest | None, remote_user: str | None
    ) -> AbstractBaseUser | None:
        """The user named by the guard's identity; ``PermissionDenied`` for any other."""
        if not remote_user:
            return None
        self._check_guarded(request, remote_user)
        user: AbstractBaseUser | None = super().authenticate(request, remote_user)
        return user

    async def aauthenticate(
        self, request: HttpRequest | None, remote_user: str | None
    ) -> AbstractBaseUser | None:
        """See :meth:`authenticate`."""
        if not remote_user:
            return None
        self._check_guarded(request, remote_user)
        user: AbstractBaseUser | None = await super().aauthenticate(request, remote_user)
        return user

    def configure_user(
        self, request: HttpRequest | None, user: AbstractBaseUser | None, created: bool = True
    ) -> AbstractBaseUser | None:
        """Put ``user`` in the mapped groups its token qualifies for, out of the others."""
        user = super().configure_user(request, user, created=created)
        mapping = _groups()
        if user is None or not mapping or request is None:
            return user
        identity = get_identity(request.META)
        if identity is None:  # authenticate() let no such request through
            return user
        qualified = {name for name, needs in mapping.items() if needs.refusal(identity) is None}
        existing = {group.name: group for group in Group.objects.filter(name__in=list(mapping))}
        for name in qualified - existing.keys():
            existing[name], _ = Group.objects.get_or_create(name=name)
        groups = user.groups  # a custom user model must have PermissionsMixin's groups
        groups.add(*(existing[name] for name in qualified))
        groups.remove(*(group for name, group in existing.items() if name not in qualified))
        return user

    def _check_guarded(self, request: HttpRequest | None, remote_user: str) -> None:
        identity = get_identity(request.META) if request is not None else None
        if identity is not None and identity.subject == remote_user:
            return
        if identity is None:
            problem = (
                "REMOTE_USER is set but the request carries no identity verified by "
                "wsgi_jwt_guard: wrap the WSGI application in JWTGuard (wsgi.py: "
                "application = from_config(get_wsgi_application(), ...)) and keep "
                "RemoteUserMiddleware's header REMOTE_USER"
            )
        else:
            problem = (
                "REMOTE_USER is not the subject of the identity wsgi_jwt_guard verified: "
                "something between the guard and Django changed it"
            )
        log.error("GuardBackend refused to log a user in: %s", problem)
        raise PermissionDenied(problem)


def _groups() -> dict[str, Requirement]:
    """``WSGI_JWT_GUARD_GROUPS``, validated: group name -> what the token must hold."""
    value: Any = getattr(settings, GROUPS_SETTING, {})
    if not isinstance(value, Mapping) or not all(isinstance(name, str) for name in value):
        raise ImproperlyConfigured(
            f"{GROUPS_SETTING} must map group names to tables of claims, scopes and tokens"
        )
    try:
        return {
            name: requirement_from(needs, f"{GROUPS_SETTING}[{name!r}]")
            for name, needs in value.items()
        }
    except ConfigError as exc:
        raise ImproperlyConfigured(str(exc)) from None
