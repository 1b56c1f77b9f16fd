"""pytest plugin: every test pays for its own mess, and the next one starts clean.

After each test (and around each learner import, see target.py) it puts back the
process-wide state learner code changed, collects the garbage the code left and checks
for hidden threads. Whatever it finds fails *that* test, in plain words, instead of
surfacing in some other kata later. Loaded for plain pytest and for the checker alike.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Generator

import pytest

from checker import explain, globalstate, leftovers, target, threads

_SNAPSHOT = pytest.StashKey[globalstate.Snapshot]()
_HIDDEN = pytest.StashKey[int]()
HIDDEN_THREAD_WAIT = 1.0  # seconds a hidden thread gets to finish after the test
_sleep = time.sleep  # the real one: katas/conftest.py guards time.sleep later


class LeftBehind(AssertionError):
    """Learner code changed or left something that would disturb the tests after it."""


def explain_garbage(found: list[str]) -> str:
    """Turn what the garbage collector complained about into advice."""
    first = found[0]
    if "was never awaited" in first:
        return explain.never_awaited(first, [str(p) for p in target.learner_files()])
    if "unclosed event loop" in first:
        advice = (
            "An event loop was created and never closed. `asyncio.run(...)` closes its loop "
            "for you; a loop or Runner you make yourself must be closed."
        )
    elif "unclosed" in first:
        advice = "Something was opened and never closed: use `with` (or `async with`)."
    elif "destroyed but it is pending" in first:
        advice = "A task was thrown away while still running: keep a reference and await it."
    else:
        advice = "Clean up what your code creates before it returns."
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"Your code left something behind: {first}{more}. {advice}"


def explain_changes(changed: list[str]) -> str:
    shown = "; ".join(changed[:3]) + (f"; and {len(changed) - 3} more" if len(changed) > 3 else "")
    return (
        f"Your code changed shared global state and left it changed: {shown}. The checker "
        "put it back so that other katas are not affected. Don't patch the standard library "
        "or the interpreter from your code; the tests pass in any fakes they need."
    )


def problems_since(before: globalstate.Snapshot) -> list[str]:
    """Restore what changed since `before` and collect garbage; each problem as advice."""
    found: list[str] = []
    changed = globalstate.changes(before, globalstate.take())
    if changed:
        globalstate.restore(before)
        found.append(explain_changes(changed))
    garbage = leftovers.collect()
    if garbage:
        found.append(explain_garbage(garbage))
    return found


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None]:
    globalstate.no_implicit_loop()
    item.stash[_SNAPSHOT] = globalstate.take()
    item.stash[_HIDDEN] = threads.hidden_count()
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None]:
    result = yield  # fixtures are torn down (the test's event loop closed) by now
    before = item.stash.get(_SNAPSHOT, None)
    if before is None:
        return result
    _forget_last_failure()
    found = problems_since(before)
    if _hidden_thread_still_running(item.stash.get(_HIDDEN, 0)):
        found.append(
            "A thread your code started (with _thread.start_new_thread, which `threading` "
            "cannot see) is still running after the test. Every thread must finish before "
            "your function returns; prefer `asyncio.to_thread`."
        )
    if found:
        raise LeftBehind("\n".join(found))
    return result


def _forget_last_failure() -> None:
    """pytest keeps a failed test's traceback in sys.last_*; its frames would keep the
    test's objects (an unclosed loop, say) alive until some later kata's test."""
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)


def _hidden_thread_still_running(before: int) -> bool:
    deadline = time.monotonic() + HIDDEN_THREAD_WAIT
    while threads.hidden_count() > before:
        if time.monotonic() > deadline:
            return True
        _sleep(0.01)
    return False


def pytest_configure(config: pytest.Config) -> None:
    # "coroutine ... was never awaited" then says where the coroutine was made.
    sys.set_coroutine_origin_tracking_depth(explain.ORIGIN_DEPTH)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything loaded so far lives to the end: keep it out of every later collection.

    Each test's garbage check then walks only what was made since (handbook §8).
    """
    gc.collect()
    gc.freeze()
