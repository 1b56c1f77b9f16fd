"""What learner code leaves for the garbage collector, caught while it is still its own.

An unclosed file, event loop or never-awaited coroutine only complains when it is
collected, often during another kata's test. Collecting right after the learner's code
ran, with our own `sys.unraisablehook`, charges the complaint to the code that made it.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def unraisables() -> Iterator[list[str]]:
    """Collect every "Exception ignored in ..." raised inside the block, as text."""
    caught: list[str] = []

    def hook(unraisable: sys.UnraisableHookArgs) -> None:
        caught.append(describe(unraisable))

    previous = sys.unraisablehook
    sys.unraisablehook = hook
    try:
        yield caught
    finally:
        sys.unraisablehook = previous


def collect() -> list[str]:
    """Run the garbage collector now; what complained while being collected, as text."""
    with unraisables() as caught:
        gc.collect()
    return caught


def describe(unraisable: sys.UnraisableHookArgs) -> str:
    exc = unraisable.exc_value
    if exc is not None and str(exc):
        text = f"{type(exc).__name__}: {exc}"
    elif exc is not None:
        text = type(exc).__name__
    else:
        text = unraisable.err_msg or "an error"
    return _short(text)


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
