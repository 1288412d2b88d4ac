"""Development tools: the ``wsgi-jwt-guard`` command, the demo and a development issuer.

Like ``werkzeug.debug``, this subpackage is kept apart from what runs in
production: nothing in the guard imports it, and a deployment never needs it.

* :mod:`wsgi_jwt_guard.dev.cli` -- the ``wsgi-jwt-guard`` command
  (``demo``, ``serve``, ``mint``, ``inspect``; also ``python -m wsgi_jwt_guard``);
* :mod:`wsgi_jwt_guard.dev.demo` -- the self-contained demo behind
  ``wsgi-jwt-guard demo``, its page and assets in ``dev/assets/``;
* :mod:`wsgi_jwt_guard.dev.devissuer` -- :class:`DevIssuer`, a WSGI app that
  signs tokens and serves its JWKS, and :class:`SigningKey`, for demos and tests::

      from wsgi_jwt_guard.dev import DevIssuer

      issuer = DevIssuer("http://127.0.0.1:7008")
      token = issuer.mint("user:default/alice")

.. warning::
    The development issuer signs a token for any subject anyone asks for.
    Never serve it where others can reach it.
"""

from __future__ import annotations

from .devissuer import DevIssuer, SigningKey

__all__ = ["DevIssuer", "SigningKey"]
