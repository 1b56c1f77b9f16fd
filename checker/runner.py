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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from checker import reaper
from checker.events import ENV_VAR, FIRST_FAILURE_ENV_VAR, MEMORY_ENV_VAR, Event, read_events
from checker.grade import THREAD_LEFT, Crash, grade, spec_changed
from checker.katas import ROOT, Kata
from checker.pins import Pins
from checker.results import KataResult
from checker.watchdog import STARTUP_LIMIT, TEST_TIMEOUT, watch_process

PER_TEST_BUDGET = TEST_TIMEOUT + 1.0  # a process's hard budget: startup + tests x this
# A testing kata runs the learner's tests once per implementation: however many they
# wrote, a hang is still caught by the watchdog's stall rule, so the hard budget is generous.
LEARNER_TESTS_BUDGET = 300.0
MEMORY_LIMIT = 4 * 2**30  # bytes a test process may allocate; --memory-limit changes it


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


@dataclass(frozen=True)
class RunRequest:
    """One pytest run: its arguments, environment, scratch cwd, files and time budget."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    events: Path
    log: Path
    budget: float


# pytest's built-in plugins that a kata run never uses: not loading them saves start-up.
NEEDLESS_PLUGINS = tuple(
    arg
    for name in ("junitxml", "pastebin", "stepwise", "setuponly", "setupplan", "doctest")
    for arg in ("-p", f"no:{name}")
)


def make_request(
    katas: list[Kata],
    target: Path,
    memory_limit: int,
    tmp: Path,
    first_failure_only: bool = False,
) -> RunRequest:
    """The arguments and environment of one pytest run of `katas` against `target`.

    `first_failure_only` (verify's known-wrong files): skip a kata's tests after its first
    failure, since any failure is the verdict.
    """
    events_path, log_path = tmp / "events.jsonl", tmp / "pytest.log"
    scratch = tmp / "cwd"  # learner code's relative writes land here, not in the project
    scratch.mkdir()
    events_path.touch()
    args = [
        *(str(p) for k in katas for p in k.test_files),
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
        "--timeout-disable-debugger-detection",  # a breakpoint() must not stop timeouts
        "-q",
        "--no-header",
        *NEEDLESS_PLUGINS,
        "--tb=no",  # messages come from the exception itself (plugin.py); pytest's own
        # traceback text costs ~40% of a failing run and is never shown
    ]
    env = {
        ENV_VAR: str(events_path),
        MEMORY_ENV_VAR: str(memory_limit),
        FIRST_FAILURE_ENV_VAR: "1" if first_failure_only else "",
        # Bytecode (and pytest's rewritten test modules) cached outside the project, so
        # nothing is written beside learner files and each run skips recompiling.
        "PYTHONPYCACHEPREFIX": str(pycache_dir()),
        "PYTHONDONTWRITEBYTECODE": "",  # empty: writing allowed (to the prefix above)
        # The checker imported from here; so must the test process, whatever its cwd.
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    budget = STARTUP_LIMIT + sum(
        k.test_count() * PER_TEST_BUDGET + (LEARNER_TESTS_BUDGET if k.writes_tests else 0.0)
        for k in katas
    )
    return RunRequest(args, env, scratch, events_path, log_path, budget)


def pycache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "asynckata" / "pycache"


def run_pytest(
    katas: Iterable[Kata],
    target: Path,
    memory_limit: int = MEMORY_LIMIT,
    first_failure_only: bool = False,
) -> RunOutcome:
    """One fresh `python -m pytest` process for `katas`."""
    with tempfile.TemporaryDirectory(prefix="asynckata-") as tmp:
        request = make_request(list(katas), target, memory_limit, Path(tmp), first_failure_only)
        reaper.enable()
        with open(request.log, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", *request.args],
                cwd=request.cwd,
                env={**os.environ, **request.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            reaper.track(proc.pid)
            try:
                killed = watch_process(proc.poll, lambda: _kill(proc), request)
            except BaseException:  # Ctrl-C: the child is in its own session, end it too
                _kill(proc)
                raise
            finally:
                reaper.untrack(proc.pid)
                reaper.sweep()
        return outcome_of(request, proc.returncode, killed)


def outcome_of(request: RunRequest, returncode: int | None, killed: bool) -> RunOutcome:
    return RunOutcome(read_events(request.events), returncode, killed, _tail(request.log))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _tail(path: Path, limit: int = 2000) -> str:
    data = path.read_bytes() if path.exists() else b""
    return data[-limit:].decode(errors="replace")


Launcher = Callable[[list[Kata], Path, int], RunOutcome]


def check(
    katas: list[Kata],
    target: Path,
    memory_limit: int = MEMORY_LIMIT,
    launch: Launcher | None = None,
    restore_spec: bool = True,
) -> list[KataResult]:
    """Grade every kata against `target`, in kata order.

    `launch` runs pytest once (default: a fresh process; watch mode forks a warm one).
    """
    launch = launch or run_pytest
    pins = Pins.take(katas)  # before any learner code runs
    results: dict[str, KataResult] = {}
    pending = list(katas)
    while pending:
        outcome = launch(pending, target, memory_limit)
        culprit = find_culprit(outcome)
        if culprit is not None and not any(_belongs(k, culprit) for k in pending):
            culprit = None  # it names nothing we can leave out: isolate instead
        still: list[Kata] = []
        for kata in pending:
            events = _events_for(kata, outcome.events)
            expected = pins.expected[kata.id]
            if outcome.finished or _complete(kata, events, expected):
                results[kata.id] = grade(kata, target, events, [], expected)
            elif culprit is not None and _belongs(kata, culprit):
                # What it did not reach is reported as not run; the other katas go on.
                results[kata.id] = grade(kata, target, events, [culprit], expected)
            else:
                still.append(kata)
        if still and culprit is None and not outcome.finished:
            for kata, result in zip(
                still, _isolate(still, target, pins, memory_limit), strict=True
            ):
                results[kata.id] = result
            still = []
        pending = still
    for kata_id, files in pins.changed(restore=restore_spec).items():
        spec_changed(results[kata_id], files)
    return [results[k.id] for k in katas]


def _isolate(katas: list[Kata], target: Path, pins: Pins, memory_limit: int) -> list[KataResult]:
    """Last resort when a crash names no culprit: one process per kata, two at a time."""

    def one(kata: Kata) -> KataResult:
        outcome = run_pytest([kata], target, memory_limit)
        culprit = find_culprit(outcome)
        if culprit is None and not outcome.finished:
            culprit = Crash("", "", _crash_cause(outcome))
        events = _events_for(kata, outcome.events)
        return grade(kata, target, events, [culprit] if culprit else [], pins.expected[kata.id])

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


def _complete(kata: Kata, events: list[Event], expected: list[str]) -> bool:
    """Every test file of the kata was collected and every test it started has finished."""
    collected = {e.nodeid for e in events if e.kind == "collect_report"}
    if len(collected) < len(kata.test_files):
        return False
    if any(e.kind == "collect_report" and e.outcome != "passed" for e in events):
        return True  # nothing of it runs
    started = {e.nodeid for e in events if e.kind == "test_start"}
    finished = {e.nodeid for e in events if e.kind == "test_finish"}
    names = {n.split("::", 1)[1].split("[")[0] for n in finished}
    return bool(started) and started <= finished and set(expected) <= names


def _belongs(kata: Kata, crash: Crash) -> bool:
    prefix = f"katas/{kata.id}/"
    return (
        crash.nodeid.startswith(prefix)
        or crash.test_file.startswith(prefix)
        or crash.module == kata.module
    )
