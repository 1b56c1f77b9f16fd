"""pytest plugin that streams what happens during a run as `Event` JSON lines.

Every line is written with one unbuffered `os.write`, so whatever was reported before
learner code hung or killed the process (even `os._exit`) is still on disk.
Loaded by the runner with `-p checker.plugin`; it does nothing without ENV_VAR set.
"""

from __future__ import annotations

import os
import pdb
import re
import sys
import threading
from collections.abc import Generator

import pytest

from checker import explain, target, threads
from checker.events import (
    ENV_VAR,
    FIRST_FAILURE_ENV_VAR,
    MEMORY_ENV_VAR,
    MESSAGE_LIMIT,
    OUTPUT_LIMIT,
    Event,
    cut,
)

TIMELINE_LIMIT = 60  # spans kept per test


class BreakpointLeft(AssertionError):
    """Learner code reached a breakpoint() that nobody is there to answer."""


def _no_debugger(*args: object, **kwargs: object) -> None:
    raise BreakpointLeft(
        "Your code calls breakpoint() (or pdb.set_trace()). The checker runs without a "
        "debugger, so it cannot stop there: remove it. To debug, run the kata's tests "
        "with plain pytest instead, e.g. `pytest katas/01_coroutines`."
    )


def limit_memory(limit: int) -> None:
    """Cap the data this process may allocate, so a runaway list fails only its kata."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform: best effort
        pass


def memory_limit_text() -> str:
    limit = os.environ.get(MEMORY_ENV_VAR, "")
    if not limit.isdigit():
        return "the memory limit"
    size = int(limit)
    return f"{size / 2**30:g} GB" if size >= 2**30 else f"{size // 2**20} MB"


def plain_message(exc: BaseException) -> str:
    """The learner-facing part of an exception: an assert's own message, not pytest's diff.

    A classic asyncio mistake is explained in plain words, with Python's words below.
    """
    text = _raw_message(exc)
    cause = _root_warning(exc)
    files = [str(p) for p in target.learner_files()]
    explained = explain.explain(type(cause).__name__, str(cause), files) if cause else None
    explained = explained or explain.explain(type(exc).__name__, str(exc), files)
    if explained and not isinstance(exc, AssertionError | pytest.fail.Exception):
        said = f"{type(cause).__name__}: {cause}" if cause else text
        said = re.sub(r"<function [^>]+>", "a function", said.splitlines()[0])
        text = f"{explained}\n(Python said: {re.sub(r' at 0x[0-9a-f]+', '', said)})"
    return cut(text.strip(), MESSAGE_LIMIT)


def _root_warning(exc: BaseException) -> BaseException | None:
    """The RuntimeWarning behind pytest's "unraisable exception" wrapper, if that is it."""
    if isinstance(exc, BaseExceptionGroup):
        return next((w for e in exc.exceptions if (w := _root_warning(e))), None)
    if isinstance(exc, pytest.PytestUnraisableExceptionWarning):
        return exc.__cause__
    return None


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _raw_message(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and only_not_implemented(exc):
        exc = _first_leaf(exc)  # a TODO raised inside a task group reads like any TODO
    text = str(exc)
    if isinstance(exc, MemoryError):
        return (
            f"Your code used more than {memory_limit_text()} of memory and was stopped. Is a "
            "list, string or dict growing without end?"
        )
    if isinstance(exc, SystemExit):
        return (
            f"Your code called sys.exit({exc.code!r}). A function the tests call must return "
            "a value or raise an exception, never exit the program."
        )
    if isinstance(exc, AssertionError) and "\nassert " in text:
        text = text.split("\nassert ", 1)[0]
    if not isinstance(exc, AssertionError | pytest.fail.Exception):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text


def only_not_implemented(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(only_not_implemented(e) for e in exc.exceptions)
    return isinstance(exc, NotImplementedError)


class EventWriter:
    def __init__(self, path: str, first_failure_only: bool = False) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.timed_out: dict[str, str] = {}  # kata folder -> its first test that timed out
        self.first_failure_only = first_failure_only
        self.failed: set[str] = set()  # kata folders with a failed test (first_failure_only)
        self.known_threads = set(threading.enumerate())
        self.known_hidden = threads.hidden_count()

    def write(self, event: Event) -> None:
        os.write(self.fd, event.to_line())

    # -- learner imports, from checker.target ------------------------------------------
    def on_import(self, kind: str, module: str, problem: target.ImportProblem | None) -> None:
        if problem is None:
            self.write(Event(kind, module=module))
        else:
            self.write(
                Event(
                    kind,
                    module=module,
                    exc_type=problem.exc_type,
                    message=cut(problem.message, MESSAGE_LIMIT),
                    file=problem.file,
                    line=problem.line,
                )
            )

    # -- collection ---------------------------------------------------------------------
    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, pytest.Module):
            self.write(Event("collect_start", nodeid=collector.nodeid))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.nodeid.endswith(".py"):
            message = "" if report.passed else cut(str(report.longrepr), MESSAGE_LIMIT)
            self.write(
                Event(
                    "collect_report", nodeid=report.nodeid, outcome=report.outcome, message=message
                )
            )
            self.abandon_if_threads_left(report.nodeid)

    # -- tests --------------------------------------------------------------------------
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.write(Event("test_start", nodeid=nodeid))

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.write(Event("test_finish", nodeid=nodeid))
        self.abandon_if_threads_left(nodeid)

    def abandon_if_threads_left(self, nodeid: str) -> None:
        """A thread left running would slow or disturb every later kata: stop this process.

        The runner pins the cause on `nodeid` and runs the katas not reached in a new one.
        """
        left = [t.name for t in threads.busy_new_threads(self.known_threads)]
        if threads.hidden_count() > self.known_hidden:
            left.append("a thread started with _thread.start_new_thread")
        if left:
            self.write(Event("abandon", nodeid=nodeid, message=", ".join(sorted(left))))
            os._exit(0)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        event = Event(
            "test_report",
            nodeid=item.nodeid,
            when=call.when,
            outcome=report.outcome,
            duration=report.duration,
        )
        if call.excinfo is not None:
            exc = call.excinfo.value
            event.exc_type = type(exc).__name__
            event.message = plain_message(exc)
            event.timeout = "Timeout" in str(exc) and "pytest-timeout" in str(exc)
            event.not_implemented = only_not_implemented(exc)
            event.file, event.line = _learner_frame(call.excinfo)
        for key, value in report.user_properties:
            if key == "timeline" and isinstance(value, list):
                event.timeline = [list(row) for row in value][:TIMELINE_LIMIT]
        output = "".join(content for _, content in report.sections if content)
        event.output, event.output_size = cut(output, OUTPUT_LIMIT), len(output)
        if event.timeout and item.get_closest_marker("probe") is None:
            # (A learner's test hanging on a broken copy caught its bug: the verdicts go on.)
            self.timed_out.setdefault(_kata_dir(item.nodeid), item.nodeid)
        elif report.skipped and call.when == "setup":
            event.after = self.timed_out.get(_kata_dir(item.nodeid), "")
        if report.failed and _defined_in_test_file(item):
            self.failed.add(_kata_dir(item.nodeid))
        self.write(event)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """After one test of a kata timed out, skip the rest: one hang costs one timeout."""
        if _kata_dir(item.nodeid) in self.timed_out:
            pytest.skip("an earlier test of this kata timed out")
        if self.first_failure_only and _kata_dir(item.nodeid) in self.failed:
            pytest.skip("verify: an earlier test of this kata failed, which is verdict enough")

    def pytest_sessionfinish(self, exitstatus: int) -> None:
        self.write(Event("session_finish", exitstatus=int(exitstatus)))


def _defined_in_test_file(item: pytest.Item) -> bool:
    """Not a learner's own test that a testing kata imported (its failures can be catches)."""
    function = getattr(item, "function", None)
    module = getattr(item, "module", None)
    return module is not None and getattr(function, "__module__", None) == module.__name__


def _kata_dir(nodeid: str) -> str:
    return nodeid.split("/", 2)[1] if nodeid.count("/") >= 2 else ""


def _learner_frame(excinfo: pytest.ExceptionInfo[BaseException]) -> tuple[str, int | None]:
    """The deepest traceback line inside a learner file, so a message can point at it."""
    files = {str(p) for p in target.learner_files()}
    found: tuple[str, int | None] = ("", None)
    for entry in excinfo.traceback:
        if str(entry.path) in files:
            found = (str(entry.path), entry.lineno + 1)
    return found


@pytest.hookimpl(trylast=True)  # after pytest's own debugging plugin set its hooks
def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.pop(ENV_VAR, None)  # learner code and its subprocesses don't see it
    if not path:
        return
    if (limit := os.environ.get(MEMORY_ENV_VAR, "")).isdigit():
        limit_memory(int(limit))
    sys.breakpointhook = _no_debugger
    pdb.set_trace = _no_debugger
    writer = EventWriter(path, os.environ.pop(FIRST_FAILURE_ENV_VAR, "") == "1")
    target.LISTENERS.append(writer.on_import)
    config.pluginmanager.register(writer, "asynckata-events")
