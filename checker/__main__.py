"""`python -m checker`: see cli.py."""

from __future__ import annotations

import os
import sys

from checker.cli import main


def run() -> int:
    try:
        return main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m checker --json | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


sys.exit(run())
