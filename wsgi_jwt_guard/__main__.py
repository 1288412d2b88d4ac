"""``python -m wsgi_jwt_guard``: the ``wsgi-jwt-guard`` command.

The command is a development tool and lives in :mod:`wsgi_jwt_guard.dev.cli`.
"""

import sys

from .dev.cli import main

if __name__ == "__main__":
    sys.exit(main())
