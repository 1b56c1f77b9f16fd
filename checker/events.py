"""The wire format between the pytest plugin (plugin.py) and the runner: JSON lines.

Kept free of pytest so that the checker itself starts fast.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

ENV_VAR = "ASYNCKATA_EVENTS"
MEMORY_ENV_VAR = "ASYNCKATA_MEMORY_LIMIT"  # bytes the test process may allocate
# Set (to "1") by verify for known-wrong files: a kata's first failing test is verdict
# enough, so its later tests are skipped.
FIRST_FAILURE_ENV_VAR = "ASYNCKATA_FIRST_FAILURE"
OUTPUT_LIMIT = 4000  # characters of captured output kept per test
MESSAGE_LIMIT = 2000


@dataclass
class Event:
    """One line of the stream. `kind` says which of the optional fields are set."""

    kind: str  # collect_start, collect_report, import_start, import_error, import_done,
    # test_start, test_report, test_finish, abandon (a thread was left running),
    # session_finish
    nodeid: str = ""  # a test id, or a test file's id for collect_*
    module: str = ""  # import_*: the learner module
    when: str = ""  # test_report: setup, call or teardown
    outcome: str = ""  # passed, failed, skipped
    message: str = ""
    output: str = ""
    duration: float = 0.0
    exc_type: str = ""
    file: str = ""
    line: int | None = None
    timeout: bool = False
    not_implemented: bool = False
    exitstatus: int | None = None
    output_size: int = 0  # characters printed, before `output` was cut
    after: str = ""  # a skipped test_report: the test of the same kata that timed out
    timeline: list[list[object]] | None = None  # test_report: [name, start, end] per span

    def to_line(self) -> bytes:
        data = {k: v for k, v in asdict(self).items() if v not in ("", None, False, 0.0)}
        return (json.dumps(data) + "\n").encode()

    @classmethod
    def from_line(cls, line: str) -> Event | None:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            return None
        known = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or "kind" not in data:
            return None
        return cls(**{k: v for k, v in data.items() if k in known})


def read_events(path: Path) -> list[Event]:
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    return [e for line in text.splitlines() if (e := Event.from_line(line))]


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... ({len(text) - limit} more characters cut)"
