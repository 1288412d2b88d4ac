"""Framework adapters: the identity the guard verified, as each framework's idea of a user.

One module per framework, each importing its framework only inside itself
(``import wsgi_jwt_guard`` never needs any of them, and nothing in the core
imports this package):

* :mod:`wsgi_jwt_guard.adapters.pyramid` -- a Pyramid 2 security policy
  (``request.identity``, ``request.authenticated_userid``, ACL permissions).
* :mod:`wsgi_jwt_guard.adapters.django` -- a ``RemoteUserBackend`` for
  ``RemoteUserMiddleware`` that maps claims to Django groups.
* :mod:`wsgi_jwt_guard.adapters.flask` -- ``current_identity()`` and a
  ``requires(...)`` view decorator.
* :mod:`wsgi_jwt_guard.adapters.bottle` -- a Bottle plugin that hands the
  identity to routes asking for it and enforces per-route requirements.

None of them verifies a token or reads a header: they trust only the
:class:`~wsgi_jwt_guard.Identity` that a :class:`~wsgi_jwt_guard.JWTGuard`
wrapped around the application put in the WSGI environ.
"""
