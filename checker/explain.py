"""Plain words for the classic asyncio errors, shared by every kata.

Python's own messages for async mistakes name internals ("unhashable type: 'list'",
"a coroutine was expected, got <function ...>"). Each rule here recognises one mistake
and says what went wrong and which idea fixes it; callers keep the original below it.
Pure text in, text out: no pytest, no printing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# How many frames Python records where each coroutine was created (for "never awaited").
ORIGIN_DEPTH = 3

_NEVER_AWAITED = re.compile(r"coroutine '(?P<name>[\w.<>]+)' was never awaited")
_ORIGIN_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in [^\n]*\n\s*(?P<src>.*)')


@dataclass(frozen=True)
class Rule:
    """An error type and a pattern in its message, and what to tell the learner."""

    exc_type: str
    pattern: str
    advice: str

    def matches(self, exc_type: str, message: str) -> bool:
        return exc_type == self.exc_type and re.search(self.pattern, message) is not None


RULES = (
    Rule(
        "TypeError",
        r"unhashable type: 'list'",
        "asyncio.gather got a list as one argument. It takes each awaitable as a separate "
        "argument: spread the list with a star, gather(*things).",
    ),
    Rule(
        "ValueError",
        r"a coroutine was expected, got <function",
        "asyncio.run got a function, not a coroutine. Call the async function to make the "
        "coroutine and pass that: asyncio.run(main()), not asyncio.run(main).",
    ),
    Rule(
        "RuntimeError",
        r"asyncio.run\(\) cannot be called from a running event loop",
        "asyncio.run was called inside async code, where an event loop is already running. "
        "asyncio.run is only for plain code; inside a coroutine, await instead.",
    ),
    Rule(
        "TypeError",
        r"Passing coroutines is forbidden",
        "asyncio.wait takes tasks, not coroutines. Wrap each coroutine with "
        "asyncio.create_task first (or use asyncio.gather, which accepts coroutines).",
    ),
    Rule(
        "RuntimeError",
        r"Event loop is closed",
        "Something used an event loop after it was closed. A loop from an earlier "
        "asyncio.run cannot be reused: create tasks and futures inside the running loop.",
    ),
    Rule(
        "RuntimeError",
        r"This event loop is already running",
        "run_until_complete (or asyncio.run) was called while the loop was already running. "
        "Inside async code, await the coroutine instead.",
    ),
    Rule(
        "RuntimeError",
        r"cannot reuse already awaited coroutine",
        "The same coroutine object was awaited twice. A coroutine runs once: call the async "
        "function again for a new one, or keep the result of the first await.",
    ),
    Rule(
        "TypeError",
        r"can't be used in 'await' expression",
        "Something that is not awaitable was awaited. Only coroutines, tasks and futures can "
        "be awaited: is the function you call defined with async def?",
    ),
    Rule(
        "TypeError",
        r"'coroutine'",
        "A coroutine object was used as if it were its result. Calling an async function only "
        "creates the coroutine: await it to get the value.",
    ),
    Rule(
        "RuntimeError",
        r"no running event loop",
        "asyncio was used from plain (not async) code where no event loop runs. Call it from "
        "inside a coroutine, or start one with asyncio.run.",
    ),
)


def explain(exc_type: str, message: str, learner_files: Iterable[str] = ()) -> str | None:
    """The plain-words explanation of one error, or None when no rule knows it."""
    if "was never awaited" in message:
        return never_awaited(message, learner_files)
    for rule in RULES:
        if rule.matches(exc_type, message):
            return rule.advice
    return None


def never_awaited(message: str, learner_files: Iterable[str] = ()) -> str:
    """ "`asyncio.sleep(...)` was called but never awaited (file.py, line 12): ..."."""
    name_match = _NEVER_AWAITED.search(message)
    name = name_match.group("name") if name_match else "a coroutine"
    frames = list(_ORIGIN_FRAME.finditer(message))
    files = {str(Path(f)) for f in learner_files}
    ours = [f for f in frames if f.group("file") in files] or frames
    call, where = f"{name}(...)", ""
    if ours:
        frame = ours[-1]
        where = f" ({Path(frame.group('file')).name}, line {frame.group('line')})"
        spelled = re.search(rf"([\w.]*\b{re.escape(name.split('.')[-1])})\s*\(", frame.group("src"))
        if spelled:
            call = f"{spelled.group(1)}(...)"
    return (
        f"`{call}` was called but never awaited{where}. Calling an async function only "
        f"creates a coroutine, which does nothing until it is awaited: write `await {call}`."
    )
