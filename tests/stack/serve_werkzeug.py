"""``python -m tests.stack.serve_werkzeug PORT``: Werkzeug's development server
(``run_simple``, threaded) serving ``tests.stack.apps:application``."""

from __future__ import annotations

import logging
import sys

from werkzeug.serving import run_simple

from tests.stack.apps import application


def main() -> None:
    # One line per request would only fill the pipe; errors still print.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run_simple("127.0.0.1", int(sys.argv[1]), application, threaded=True)


if __name__ == "__main__":
    main()
