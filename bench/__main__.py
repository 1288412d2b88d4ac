"""``python -m bench [--quick]``: measure every target row of issue 5 and print the table."""

from bench.run import main

raise SystemExit(main())
