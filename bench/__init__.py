"""The benchmark suite of issue 5: run it with ``python -m bench`` (see BENCHMARKS.md).

Every figure is measured in one process run, with the guard and its peers
interleaved round by round, and reported as a median with its spread. The
modules:

* :mod:`bench.timing` -- interleaved rounds, medians, spreads;
* :mod:`bench.fixtures` -- keys, tokens, a JWKS server on 127.0.0.1, WSGI plumbing;
* :mod:`bench.peers` -- what users write today: PyJWT + ``PyJWKClient``,
  ``jose.jwt.decode``, Flask + flask-jwt-extended;
* :mod:`bench.gunicorn_wrk` -- gunicorn + ``wrk`` on 127.0.0.1 (apps in :mod:`bench.apps`);
* :mod:`bench.memory` -- the verified-token cache under valid and garbage tokens;
* :mod:`bench.run` -- the rows, the table, PASS/MISS.

It is not part of the test suite: timings assert nothing there (a smoke test
only checks that it still runs).
"""
