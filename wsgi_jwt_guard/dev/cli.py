"""The ``wsgi-jwt-guard`` command: a demo, a dev server, and token tools.

::

    wsgi-jwt-guard demo [--port 7007]
    wsgi-jwt-guard serve MODULE:APP [--config guard.toml] [--host 127.0.0.1] [--port 8000]
    wsgi-jwt-guard mint --key private.pem --iss URL --sub SUBJECT [--aud A] [--claim k=v ...]
    wsgi-jwt-guard mint --service [--secret-file FILE] [--config guard.toml]
    wsgi-jwt-guard inspect TOKEN [--config guard.toml] [--path /api/x [--method POST]]
    wsgi-jwt-guard --version

``demo`` runs :mod:`wsgi_jwt_guard.dev.demo` on 127.0.0.1 (``--port 0`` picks a
free port) and prints its URLs, a token and ``curl`` lines. ``serve`` runs any
WSGI app behind the guard on Werkzeug's development server. ``mint`` signs a
user token with a PEM or JWK private key, or a service token with the shared
secret (read from a file or the configuration, never from the command line,
where ``ps`` would show it). ``inspect`` decodes a token (leniently, marked
unverified) and prints its fingerprint; given a configuration, it sends the
token through a guard built from it and reports that guard's verdict, exit
status 1 when it refuses (:mod:`wsgi_jwt_guard.dev.inspection`).

Where no ``--config`` is given, the configuration comes from the environment
(``WSGI_JWT_GUARD_CONFIG`` and the single-issuer variables; see
:func:`wsgi_jwt_guard.config.environment_config`).

Errors are one line on stderr and exit status 1 (2 for usage errors). ``demo``
and ``serve`` stop cleanly, with status 0, on Ctrl-C or ``SIGTERM``.

The parser is the standard library's ``argparse``: four subcommands with a few
flags each need nothing more, and the package gains no dependency.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, make_server

from .. import __version__
from ..clock import Clock, system_clock
from ..config import environment_config, from_config, load_config, with_environment
from ..errors import (
    GuardError,
    InvalidToken,
)
from ..introspection import is_jws_shaped
from ..service import ServiceTokens
from .devissuer import SigningKey
from .inspection import ask_the_guard, describe, explain, when

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["main"]

PROG = "wsgi-jwt-guard"


class CommandError(Exception):
    """A failure reported as one line on stderr."""


def main(argv: Sequence[str] | None = None, *, clock: Clock = system_clock) -> int:
    """Run the command line; return the exit status.

    ``clock`` is where ``mint`` and ``inspect`` take the time from.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    args.clock = clock
    try:
        status: int = args.run(args)
        sys.stdout.flush()
    except (CommandError, GuardError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (``inspect ... | head``): stop quietly, as a
        # program killed by SIGPIPE would, and keep Python's exit-time flush
        # of stdout from printing a second error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="JWT authentication in front of any WSGI app."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run a development issuer and a sample app behind the guard"
    )
    demo.add_argument("--port", type=int, default=7007, help="0 picks a free port (default 7007)")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="run MODULE:APP behind the guard (development)")
    serve.add_argument("app", metavar="MODULE:APP", help="e.g. myproject.wsgi:application")
    serve.add_argument("--config", help="guard.toml (default: the environment)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    serve.set_defaults(run=_serve)

    mint = commands.add_parser("mint", help="sign a token (user or service) and print it")
    kind = mint.add_mutually_exclusive_group(required=True)
    kind.add_argument("--key", help="private key of a user-token issuer: PEM or JWK file")
    kind.add_argument("--service", action="store_true", help="an HS256 service token")
    mint.add_argument(
        "--alg", help="RS384/RS512/PS256/PS384/PS512 for an RSA key (default RS256; EC, Ed: fixed)"
    )
    mint.add_argument("--kid", help="the header kid (default: the JWK's)")
    mint.add_argument("--iss", help="issuer (user tokens; required with --key)")
    mint.add_argument("--sub", help="subject (service tokens: the configured subject)")
    mint.add_argument("--aud", action="append", default=[], help="audience (repeatable)")
    mint.add_argument("--typ", help="header typ, e.g. vnd.backstage.user")
    mint.add_argument("--lifetime", type=int, help="seconds until exp (default 3600)")
    mint.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a claim; VALUE is JSON if it parses, else a string (repeatable)",
    )
    mint.add_argument("--claims", help="a JSON object of claims, or @file.json")
    mint.add_argument("--secret-file", help="service secret file (default: the configuration)")
    mint.add_argument("--config", help="guard.toml with [service_tokens] (default: environment)")
    mint.set_defaults(run=_mint)

    inspect = commands.add_parser(
        "inspect", help="decode a token; with a config, what the guard would do with it"
    )
    inspect.add_argument("jwt", metavar="TOKEN", help="the token, or - to read it from stdin")
    inspect.add_argument("--config", help="guard.toml to verify against (default: environment)")
    inspect.add_argument(
        "--path",
        help="ask about a request to this path, with its route's policy and requirements "
        "(default: a protected route with no requirements)",
    )
    inspect.add_argument("--method", default="GET", help="the method, with --path (default GET)")
    inspect.set_defaults(run=_inspect)
    return parser


# --- demo and serve ----------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from .demo import Demo  # the page and sample app are only needed here

    # Service tokens only if a secret is set: the demo never invents one it cannot show.
    secrets = with_environment({"service_tokens": {}})["service_tokens"].get("secrets", [])
    server = _listen("127.0.0.1", args.port)
    demo = Demo(f"http://127.0.0.1:{server.port}", service_secrets=secrets)
    server.app = demo
    _log_to_stderr(logging.INFO)
    print(demo.banner(), flush=True)
    _serve_until_stopped(server)
    return 0


def _serve(args: argparse.Namespace) -> int:
    app = _import_app(args.app)
    guard = from_config(app, args.config)
    server = _listen(args.host, args.port)
    server.app = guard
    _log_to_stderr(logging.INFO)
    print(f"Serving {args.app} behind the guard on http://{args.host}:{server.port}/", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    _serve_until_stopped(server)
    return 0


def _import_app(spec: str) -> WSGIApplication:
    module_name, _, attribute = spec.partition(":")
    if not module_name:
        raise CommandError(f"expected MODULE:APP, got {spec!r}")
    sys.path.insert(0, os.getcwd())  # like gunicorn: the project is the current directory
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise CommandError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    for name in (attribute or "application").split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise CommandError(f"{module_name!r} has no attribute {name!r}") from None
    if not callable(target):
        raise CommandError(f"{spec!r} is not a WSGI application (not callable)")
    app: WSGIApplication = target
    return app


def _not_ready(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Placeholder app: of a server before its app is built, of a guard built to verify only."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting\n"]


def _listen(host: str, port: int) -> BaseWSGIServer:
    """A threaded dev server bound to ``host:port`` (0: any free port); app set later."""
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        hint = ""
        if exc.errno == errno.EADDRINUSE:
            hint = " (is another server running there? --port 0 picks a free port)"
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}{hint}") from None
    with sock:  # the server works on its own duplicate of the socket
        return make_server(host, sock.getsockname()[1], _not_ready, threaded=True, fd=sock.fileno())


def _serve_until_stopped(server: BaseWSGIServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Set both explicitly: a process started in the background inherits an
    # ignored SIGINT, and Ctrl-C must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()  # returns on KeyboardInterrupt, and closes the server
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print("Stopped.", file=sys.stderr, flush=True)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The command's own handler, so a second command in one process adds no second copy."""


def _log_to_stderr(level: int) -> None:
    logger = logging.getLogger("wsgi_jwt_guard")
    logger.setLevel(level)
    if any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        return
    handler = _StderrHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    logger.addHandler(handler)


# --- mint --------------------------------------------------------------------------


def _mint(args: argparse.Namespace) -> int:
    extra = _claims_from(args.claims, args.claim)
    if args.service:
        tokens = _service_tokens(args)
        now = int(args.clock())
        claims: dict[str, Any] = {}
        if args.lifetime is not None:
            claims["exp"] = now + args.lifetime
        if args.sub is not None and args.sub != tokens.subject:
            raise CommandError(f"service tokens carry the configured subject {tokens.subject!r}")
        if args.aud:
            claims["aud"] = args.aud[0] if len(args.aud) == 1 else args.aud
        print(tokens.mint(now=now, claims={**claims, **extra}))
        return 0
    if not args.iss or not args.sub:
        raise CommandError("a user token needs --iss and --sub")
    key = SigningKey.from_file(args.key, algorithm=args.alg, kid=args.kid)
    now = int(args.clock())
    claims = {"iss": args.iss, "sub": args.sub, "iat": now, "exp": now + (args.lifetime or 3600)}
    if args.aud:
        claims["aud"] = args.aud[0] if len(args.aud) == 1 else args.aud
    header = {"typ": args.typ} if args.typ else None
    print(key.sign({**claims, **extra}, header=header))
    return 0


def _service_tokens(args: argparse.Namespace) -> ServiceTokens:
    if args.secret_file:
        try:
            secret = Path(args.secret_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeError) as exc:
            raise CommandError(f"cannot read the secret file {args.secret_file!r}: {exc}") from None
        return ServiceTokens([secret], subject=args.sub or "backstage-server")
    config = load_config(args.config) if args.config else environment_config()
    settings = (config or {}).get("service_tokens")
    if settings is None:
        raise CommandError(
            "no service secret: give --secret-file, or [service_tokens] in --config, "
            "or set WSGI_JWT_GUARD_SERVICE_SECRET"
        )
    guard = from_config(_not_ready, config or {})
    tokens = guard.verifier.service_tokens
    assert tokens is not None  # [service_tokens] is configured
    return tokens


def _claims_from(document: str | None, pairs: Iterable[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    if document:
        text = document
        if document.startswith("@"):
            try:
                text = Path(document[1:]).read_text(encoding="utf-8")
            except (OSError, UnicodeError) as exc:
                raise CommandError(f"cannot read {document[1:]!r}: {exc}") from None
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            raise CommandError(f"--claims is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise CommandError("--claims must be a JSON object")
        claims.update(loaded)
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise CommandError(f"--claim expects NAME=VALUE, got {pair!r}")
        try:
            claims[name] = json.loads(value)
        except ValueError:
            claims[name] = value
    return claims


# --- inspect -----------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> int:
    given: str = sys.stdin.readline() if args.jwt == "-" else args.jwt
    token = given.strip().removeprefix("Bearer ").removeprefix("bearer ").strip()
    now = args.clock()
    config = load_config(args.config) if args.config else environment_config()
    opaque = not is_jws_shaped(token) and config is not None and _introspects(config)
    if opaque:
        print("Opaque: not a JWT, nothing to decode; the guard asks its issuer (introspection).")
    else:
        try:
            print("\n".join(describe(token, now)))
        except InvalidToken as exc:
            raise CommandError(f"not a JWT: {exc.description}") from None
    if config is None:
        print("Not verified: pass --config guard.toml (or set WSGI_JWT_GUARD_CONFIG) to verify.")
        return 0
    _log_to_stderr(logging.WARNING)  # JWKS fetch failures say why keys are missing
    verdict = ask_the_guard(token, config, args.path, args.method, clock=args.clock)
    where = f"{args.method} {args.path}" if args.path else "a protected route"
    identity = verdict.identity
    if verdict.reason is not None or verdict.status >= 400:
        reason = explain(verdict, token, config, now)
        raise CommandError(f"token refused ({verdict.status}) on {where}: {reason}")
    if identity is None:
        print(f"Public: the guard lets {where} through without looking at the token.")
        return 0
    by_issuer = f"issuer {identity.issuer}"
    who = {"user": by_issuer, "edge-service": by_issuer, "service": "the service secrets"}.get(
        identity.kind, "a static API key"
    )
    how = f"vouched for by {by_issuer}'s introspection endpoint" if opaque else f"signed by {who}"
    print(
        f"Verified: a {identity.kind} token for {identity.subject!r}, {how}, "
        f"expires {when(identity.expires_at, now)}; the guard lets it through on {where}."
    )
    return 0


def _introspects(config: Mapping[str, Any]) -> bool:
    """Whether ``config`` has an issuer that introspects opaque tokens."""
    issuers = config.get("issuers", [])
    return isinstance(issuers, list) and any(
        isinstance(entry, Mapping) and entry.get("introspect", "off") != "off" for entry in issuers
    )
