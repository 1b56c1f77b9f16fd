"""Turns one kata's events into a `KataResult`: a pass is proven, never assumed.

A kata passes only when every test its pristine test files define (read with `ast`)
reported passed in setup, call and teardown. Whatever did not report is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from checker.events import Event
from checker.katas import Kata, shown_path
from checker.results import KataResult, KataStatus, Span, TestResult, TestStatus

OUTPUT_FLOOD = 1_000_000  # characters a passing test may print before it counts as failed
THREAD_LEFT = "thread left running"  # a Crash cause: the plugin stopped the process


@dataclass(frozen=True)
class Crash:
    """Something that hung or killed the test process, pinned on what was running."""

    nodeid: str  # the test in progress, or ""
    test_file: str  # the test file being collected, or ""
    cause: str  # "stalled", THREAD_LEFT, or "exit code N"
    module: str = ""  # the learner module being imported, or ""
    detail: str = ""  # THREAD_LEFT: the threads' names

    @property
    def stalled(self) -> bool:
        return self.cause == "stalled"


@dataclass(frozen=True)
class FileProblem:
    """Why a learner file could not be tested at all."""

    status: KataStatus
    message: str
    line: int | None = None


def grade(
    kata: Kata, target: Path, events: list[Event], crashes: list[Crash], expected: list[str]
) -> KataResult:
    """`expected`: the test names pinned before the run (see pins.py)."""
    file = kata.learner_file(target)
    result = KataResult(kata.id, kata.number, kata.title, KataStatus.ERROR, file=shown_path(file))
    if problem := _file_problem(kata, file, events, crashes):
        result.status, result.message, result.line = problem.status, problem.message, problem.line
        result.tests = [
            TestResult(name, TestStatus.MISSING, "Not run: the learner file could not be loaded.")
            for name in expected
        ]
        return result
    result.tests = _tests(expected, events, crashes)
    result.status = _kata_status(result.tests)
    crashed = [c for c in crashes if c.nodeid and not c.stalled and c.cause != THREAD_LEFT]
    if crashed:
        result.status = KataStatus.ERROR
        result.message = f"The test process died ({crashed[0].cause}) while running your code."
    return result


def _file_problem(
    kata: Kata, file: Path, events: list[Event], crashes: list[Crash]
) -> FileProblem | None:
    name = file.name
    if not file.is_file():
        return FileProblem(KataStatus.ERROR, f"{shown_path(file)} does not exist.")
    if not file.read_text(encoding="utf-8", errors="replace").strip():
        return FileProblem(
            KataStatus.ERROR,
            f"{name} is empty. Get the starting code back with "
            f"`git checkout -- {shown_path(file)}` and begin again.",
        )
    for e in events:
        if e.kind == "import_error" and e.module == kata.module:
            return FileProblem(KataStatus.ERROR, _import_error_message(name, e), e.line)
    for crash in crashes:
        if crash.nodeid:
            continue
        if crash.cause == THREAD_LEFT:
            return FileProblem(
                KataStatus.ERROR,
                f"{name} starts a thread when it is imported ({crash.detail}), and the thread "
                "is still running. Code outside functions runs on import: start threads inside "
                "your functions, and make sure they finish.",
            )
        if not (crash.module or crash.test_file):
            return FileProblem(
                KataStatus.ERROR,
                f"The test process stopped unexpectedly ({crash.cause}) while testing {name}.",
            )
        if crash.stalled:
            return FileProblem(
                KataStatus.TIMEOUT,
                f"Importing {name} never finished and had to be stopped. Is there an "
                "endless loop at module level (outside any function)?",
            )
        return FileProblem(
            KataStatus.ERROR,
            f"The test process stopped ({crash.cause}) while loading {name}. Does it call "
            "sys.exit() or os._exit() at module level? Code outside functions runs on import.",
        )
    for e in events:
        if e.kind == "collect_report" and e.outcome != "passed":
            return FileProblem(KataStatus.ERROR, _collect_error_message(name, e.message))
    return None


def _import_error_message(name: str, e: Event) -> str:
    where = f" (line {e.line})" if e.line else ""
    if e.exc_type in ("SyntaxError", "IndentationError", "TabError"):
        return f"{name} has a {e.exc_type}{where}: {e.message}. Fix it so Python can read it."
    if e.exc_type == "SystemExit":
        return f"{name} calls sys.exit() while it is imported{where}. The tests import your file."
    if e.exc_type == "ImportSideEffects":
        return f"Importing {name} (its code outside functions) had side effects. {e.message}"
    if e.exc_type == "KeyboardInterrupt":
        return f"{name} raised KeyboardInterrupt while it was imported{where}."
    return f"{name} failed to import{where}: {e.exc_type}: {e.message}"


_MISSING_NAME = re.compile(r"cannot import name '(\w+)'")


def _collect_error_message(name: str, text: str) -> str:
    if match := _MISSING_NAME.search(text):
        return (
            f"{name} has no `{match.group(1)}`, which the tests need. Did you rename or delete it?"
        )
    return f"The tests could not be loaded:\n{text}"


def _base(name: str) -> str:
    return name.split("[", 1)[0]


def _tests(
    expected_tests: list[str], events: list[Event], crashes: list[Crash]
) -> list[TestResult]:
    reports: dict[str, list[Event]] = {}
    for e in events:
        if e.kind in ("test_start", "test_report"):
            reports.setdefault(e.nodeid, []).append(e)
    for crash in crashes:
        if crash.nodeid:
            reports.setdefault(crash.nodeid, [])
    by_crash = {c.nodeid: c for c in crashes if c.nodeid}
    process_stop = next((c for c in crashes if c.nodeid), None)
    results: list[TestResult] = []
    for expected in expected_tests:
        instances = [n for n in reports if _base(n.split("::", 1)[1]) == expected]
        if not instances:
            why = "This test reported no result."
            if process_stop:
                culprit = process_stop.nodeid.split("::", 1)[1]
                how = {"stalled": "hung the test process", THREAD_LEFT: "left a thread running"}
                did = how.get(process_stop.cause, "stopped the test process")
                why = f"Not run: {culprit} {did} first. Fix that one first."
            results.append(TestResult(expected, TestStatus.MISSING, why))
        for nodeid in instances:
            name = nodeid.split("::", 1)[1]
            phases = [e for e in reports[nodeid] if e.kind == "test_report"]
            pinned = by_crash.get(nodeid)
            if pinned is None:
                results.append(_from_reports(name, phases))
            elif pinned.cause == THREAD_LEFT:
                results.append(_left_thread(name, phases, pinned))
            else:
                results.append(_crashed(name, pinned))
    return results


def _crashed(name: str, crash: Crash) -> TestResult:
    if crash.stalled:
        return TestResult(
            name,
            TestStatus.TIMEOUT,
            (
                "This test kept running past its time limit and had to be killed. Is there an "
                "endless loop that catches every exception (`except BaseException:` or a bare "
                "`except:`), or a thread that never finishes?"
            ),
        )
    return TestResult(
        name,
        TestStatus.ERROR,
        (
            f"The test process stopped ({crash.cause}) during this test. Does your code call "
            "sys.exit() or os._exit(), or raise KeyboardInterrupt?"
        ),
    )


def _left_thread(name: str, phases: list[Event], crash: Crash) -> TestResult:
    result = _from_reports(name, phases)
    if result.passed:
        result.status = TestStatus.ERROR
        result.message = (
            f"This test passed, but a thread your code started was still running after it "
            f"({crash.detail}). Every thread must finish before your function returns."
        )
    return result


def _from_reports(name: str, reports: list[Event]) -> TestResult:
    by_when = {r.when: r for r in reports}
    # pytest adds every earlier phase's captured output to later reports: the last has all.
    output = reports[-1].output if reports else ""
    printed = max((r.output_size for r in reports), default=0)
    duration = sum(r.duration for r in reports)
    result = TestResult(name, TestStatus.PASSED, output=output, duration=duration)
    result.timeline = next((_spans(r.timeline) for r in reports if r.timeline), [])
    timed_out = next((r for r in reports if r.timeout), None)
    call, setup = by_when.get("call"), by_when.get("setup")
    failed = next(
        (r for r in (setup, call, by_when.get("teardown")) if r and r.outcome == "failed"), None
    )
    skipped = next((r for r in reports if r.outcome == "skipped"), None)
    if timed_out:
        result.status = TestStatus.TIMEOUT
        result.message = (
            "This test took longer than its time limit (a few seconds of real time) and was "
            "stopped. An endless loop, or code that blocks without ever awaiting?"
        )
        result.line = timed_out.line
        if timed_out.file and timed_out.line:
            result.message += (
                f"\nIt was stopped at {Path(timed_out.file).name}, line {timed_out.line}."
            )
    elif failed:
        result.status = TestStatus.FAILED if failed.when == "call" else TestStatus.ERROR
        result.message = failed.message
        if failed.file and failed.line:
            result.message += f"\n(at {Path(failed.file).name}, line {failed.line})"
            result.line = failed.line
        result.not_implemented = failed.not_implemented
    elif skipped and skipped.after:
        result.status = TestStatus.MISSING
        result.message = (
            f"Not run: {skipped.after.split('::', 1)[1]} timed out first. Fix that one first."
        )
    elif skipped:
        result.status = TestStatus.FAILED
        result.message = (
            f"This test was skipped, and a skipped test is not a pass. {skipped.message}"
        )
    elif printed > OUTPUT_FLOOD:
        result.status = TestStatus.FAILED
        size = printed / 1_000_000
        result.message = (
            f"Your code printed {size:.1f} MB during this test. That floods the terminal and "
            "slows everything down: remove the print calls (a few lines of debug output are fine)."
        )
    elif call is None or call.outcome != "passed":
        result.status = TestStatus.MISSING
        result.message = "This test started but reported no result."
    return result


def spec_changed(result: KataResult, files: list[str]) -> None:
    """A test file changed during the run: nothing it reported can be trusted."""
    result.status = KataStatus.ERROR
    result.line = None
    result.message = (
        f"{', '.join(files)} changed while the tests ran, so this result cannot be trusted. "
        "Tests are the spec: no code may write to them. The checker put the file back as it "
        "was and kept the changed one under ~/.cache/asynckata/changed/. Look for code that "
        "writes files, with a relative path or next to __file__ (in this kata or one before)."
    )


def _spans(rows: list[list[object]] | None) -> list[Span]:
    spans = []
    for row in rows or []:
        name, start, end = [*row, None, None, None][:3]
        if isinstance(start, int | float):
            stop = float(end) if isinstance(end, int | float) else None
            spans.append(Span(str(name), float(start), stop))
    return spans


def _kata_status(tests: list[TestResult]) -> KataStatus:
    if tests and all(t.passed for t in tests):
        return KataStatus.PASSED
    if any(t.status is TestStatus.TIMEOUT for t in tests):
        return KataStatus.TIMEOUT
    if not any(t.passed for t in tests) and all(t.not_implemented for t in tests):
        return KataStatus.NOT_STARTED
    return KataStatus.FAILED
