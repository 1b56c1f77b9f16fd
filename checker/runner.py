"""Runs kata tests in pytest subprocesses that learner code cannot hang or fool.

The common case is one pytest process for every kata. When learner code hangs it or
kills it, the last event on disk names the culprit (a test or an import): its kata is
graded from what it reported, and the katas not yet finished run again in a new
process. Only when a crash names no culprit does each remaining kata get a process of
its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from checker.events import ENV_VAR, Event, read_events
from checker.grade import THREAD_LEFT, Crash, grade
from checker.katas import ROOT, Kata
from checker.results import KataResult

TEST_TIMEOUT = 3.0  # per test, enforced inside pytest by pytest-timeout (signal method)
STALL_LIMIT = TEST_TIMEOUT + 2.0  # no new event for this long: the process is stuck
STARTUP_LIMIT = 30.0  # before the first event (imports on a cold disk)
EXIT_GRACE = 1.0  # after the session finished, for threads that never end
POLL = 0.02


@dataclass
class RunOutcome:
    """What one pytest process left behind."""

    events: list[Event]
    returncode: int | None
    killed: bool  # by us: no progress for too long, or its exit hung after the session
    log_tail: str

    @property
    def finished(self) -> bool:
        """The session ended on its own, so every result is in (tests not run are missing)."""
        ends = [e for e in self.events if e.kind == "session_finish"]
        return bool(ends) and ends[-1].exitstatus not in (2, 3)  # interrupted, internal error


def run_pytest(katas: Iterable[Kata], target: Path) -> RunOutcome:
    paths = [str(p.relative_to(ROOT)) for k in katas for p in k.test_files]
    with tempfile.TemporaryDirectory(prefix="asynckata-") as tmp:
        events_path = Path(tmp) / "events.jsonl"
        log_path = Path(tmp) / "pytest.log"
        events_path.touch()
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            *paths,
            f"--target={target}",  # one token: a bare path would move pytest's rootdir
            "-p",
            "checker.plugin",
            "-c",
            str(ROOT / "pyproject.toml"),
            "--rootdir",
            str(ROOT),
            "--continue-on-collection-errors",
            "--timeout",
            str(TEST_TIMEOUT),
            "-q",
            "--no-header",
            "--tb=short",
        ]
        env = {**os.environ, ENV_VAR: str(events_path), "PYTHONDONTWRITEBYTECODE": "1"}
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                killed = _watch(proc, events_path)
            except BaseException:  # Ctrl-C: the child is in its own session, end it too
                _kill(proc)
                raise
        return RunOutcome(read_events(events_path), proc.returncode, killed, _tail(log_path))


def _watch(proc: subprocess.Popen[bytes], events_path: Path) -> bool:
    """Wait for the process; kill its whole group once it stops making progress.

    Returns whether it had to be killed.
    """
    last_size, last_change, limit = 0, time.monotonic(), STARTUP_LIMIT
    finished_at: float | None = None
    while proc.poll() is None:
        time.sleep(POLL)
        now = time.monotonic()
        size = events_path.stat().st_size
        if size != last_size:
            last_size, last_change, limit = size, now, STALL_LIMIT
            if finished_at is None and _ends_with_session_finish(events_path, size):
                finished_at = now
        if finished_at is not None and now - finished_at > EXIT_GRACE:
            _kill(proc)  # the session is over; only the exit hung (a thread that never ends)
            return True
        if now - last_change > limit:
            _kill(proc)
            return True
    _kill(proc)  # leftovers of the learner's own subprocesses
    return False


def _ends_with_session_finish(path: Path, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(max(0, size - 200))
        lines = f.read().strip().splitlines()
    return bool(lines) and b'"session_finish"' in lines[-1]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _tail(path: Path, limit: int = 2000) -> str:
    data = path.read_bytes() if path.exists() else b""
    return data[-limit:].decode(errors="replace")


def check(katas: list[Kata], target: Path) -> list[KataResult]:
    """Grade every kata against `target`, in kata order."""
    results: dict[str, KataResult] = {}
    pending = list(katas)
    while pending:
        outcome = run_pytest(pending, target)
        culprit = find_culprit(outcome)
        if culprit is not None and not any(_belongs(k, culprit) for k in pending):
            culprit = None  # it names nothing we can leave out: isolate instead
        still: list[Kata] = []
        for kata in pending:
            events = _events_for(kata, outcome.events)
            if outcome.finished or _complete(kata, events):
                results[kata.id] = grade(kata, target, events, [])
            elif culprit is not None and _belongs(kata, culprit):
                # What it did not reach is reported as not run; the other katas go on.
                results[kata.id] = grade(kata, target, events, [culprit])
            else:
                still.append(kata)
        if still and culprit is None and not outcome.finished:
            for kata, result in zip(still, _isolate(still, target), strict=True):
                results[kata.id] = result
            still = []
        pending = still
    return [results[k.id] for k in katas]


def _isolate(katas: list[Kata], target: Path) -> list[KataResult]:
    """Last resort when a crash names no culprit: one process per kata, two at a time."""

    def one(kata: Kata) -> KataResult:
        outcome = run_pytest([kata], target)
        culprit = find_culprit(outcome)
        if culprit is None and not outcome.finished:
            culprit = Crash("", "", _crash_cause(outcome))
        events = _events_for(kata, outcome.events)
        return grade(kata, target, events, [culprit] if culprit else [])

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, katas))


def find_culprit(outcome: RunOutcome) -> Crash | None:
    """What was running when the process hung or died, from the last events on disk."""
    if outcome.finished:
        return None
    cause = _crash_cause(outcome)
    for e in outcome.events:
        if e.kind == "abandon":
            if e.nodeid.endswith(".py"):
                return Crash("", e.nodeid, THREAD_LEFT, detail=e.message)
            return Crash(e.nodeid, "", THREAD_LEFT, detail=e.message)
    started: dict[str, bool] = {}
    importing: dict[str, bool] = {}
    collecting: dict[str, bool] = {}
    for e in outcome.events:
        if e.kind == "test_start":
            started[e.nodeid] = True
        elif e.kind == "test_finish":
            started.pop(e.nodeid, None)
        elif e.kind == "import_start":
            importing[e.module] = True
        elif e.kind in ("import_done", "import_error"):
            importing.pop(e.module, None)
        elif e.kind == "collect_start":
            collecting[e.nodeid] = True
        elif e.kind == "collect_report":
            collecting.pop(e.nodeid, None)
    if started:
        return Crash(next(reversed(started)), "", cause)
    if collecting:
        return Crash("", next(reversed(collecting)), cause, module=next(reversed(importing), ""))
    interrupted = [
        e
        for e in outcome.events
        if e.kind == "import_error" and e.exc_type in ("KeyboardInterrupt", "SystemExit")
    ]
    if interrupted:
        return Crash("", "", cause, module=interrupted[-1].module)
    return None


def _crash_cause(outcome: RunOutcome) -> str:
    if outcome.killed:
        return "stalled"
    return f"exit code {outcome.returncode}"


def _events_for(kata: Kata, events: list[Event]) -> list[Event]:
    prefix = f"katas/{kata.id}/"
    return [e for e in events if e.nodeid.startswith(prefix) or e.module == kata.module]


def _complete(kata: Kata, events: list[Event]) -> bool:
    """Every test file of the kata was collected and every test it started has finished."""
    collected = {e.nodeid for e in events if e.kind == "collect_report"}
    if len(collected) < len(kata.test_files):
        return False
    if any(e.kind == "collect_report" and e.outcome != "passed" for e in events):
        return True  # nothing of it runs
    started = {e.nodeid for e in events if e.kind == "test_start"}
    finished = {e.nodeid for e in events if e.kind == "test_finish"}
    names = {n.split("::", 1)[1].split("[")[0] for n in finished}
    return bool(started) and started <= finished and set(kata.expected_tests()) <= names


def _belongs(kata: Kata, crash: Crash) -> bool:
    prefix = f"katas/{kata.id}/"
    return (
        crash.nodeid.startswith(prefix)
        or crash.test_file.startswith(prefix)
        or crash.module == kata.module
    )
