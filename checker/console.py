"""The one rich Console everything prints through (stdout, colour only on a terminal)."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
