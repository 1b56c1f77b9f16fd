"""`python -m checker`: see cli.py."""

from __future__ import annotations

import sys

from checker.cli import main

sys.exit(main())
