"""The watchdog over one test process: progress is a new complete event, nothing else.

Shared by fresh processes (runner.py) and forks of the warm process (warm.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from checker.events import Event

TEST_TIMEOUT = 3.0  # per test, enforced inside pytest by pytest-timeout (signal method)
STALL_LIMIT = TEST_TIMEOUT + 2.0  # no new event for this long: the process is stuck
STARTUP_LIMIT = 30.0  # before the first event (imports on a cold disk)
EXIT_GRACE = 1.0  # after the session finished, for threads that never end
POLL = 0.02


class Watched(Protocol):
    @property
    def events(self) -> Path: ...

    @property
    def budget(self) -> float: ...


class _EventCounter:
    """Counts complete, well-formed event lines: bytes alone are not progress."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.count = 0
        self.finished = False

    def poll(self) -> bool:
        """Read what was appended; returns whether a new complete event arrived."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(1 << 20)
        if not data:
            return False
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        before = self.count
        for line in lines:
            event = Event.from_line(line.decode("utf-8", errors="replace"))
            if event is not None:
                self.count += 1
                self.finished = self.finished or event.kind == "session_finish"
        return self.count > before


def watch_process(
    poll: Callable[[], int | None], kill: Callable[[], None], request: Watched
) -> bool:
    """Wait for the process; kill its whole group once it stops making progress.

    Progress is a new complete event. Whatever happens, the process gets at most
    `request.budget` seconds in all. Returns whether it had to be killed.
    """
    started = last_change = time.monotonic()
    limit = STARTUP_LIMIT
    finished_at: float | None = None
    events = _EventCounter(request.events)
    while poll() is None:
        time.sleep(POLL)
        now = time.monotonic()
        if events.poll():
            last_change, limit = now, STALL_LIMIT
            if finished_at is None and events.finished:
                finished_at = now
        if finished_at is not None and now - finished_at > EXIT_GRACE:
            kill()  # the session is over; only the exit hung (a thread that never ends)
            return True
        if now - last_change > limit or now - started > request.budget:
            kill()
            return True
    kill()  # leftovers of the learner's own subprocesses
    return False
