"""``python -m wsgi_jwt_guard``: the ``wsgi-jwt-guard`` command (see :mod:`wsgi_jwt_guard.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
