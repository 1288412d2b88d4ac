"""``python -m wsgi_jwt_guard``: the ``wsgi-jwt-guard`` command (see :mod:`wsgi_jwt_guard.cli`)."""

import sys

from .cli import main

sys.exit(main())
