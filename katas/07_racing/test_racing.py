"""Kata 07 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest
from racing import first_success, hedged, in_finish_order


class MirrorError(Exception):
    """What a fake mirror raises when it fails."""


def now() -> float:
    """The event loop's (virtual) clock, in seconds."""
    return round(asyncio.get_running_loop().time(), 6)


class FakeMirrors:
    """Fake mirrors: each one takes its own number of (virtual) seconds, then answers or fails.

    It writes down when each mirror was started, which ones were cancelled, and which ones
    finished their cleanup. Cleanup after a cancel takes a few turns of the event loop
    (like closing a connection), so `task.cancel()` alone does not finish it. With
    `drawn` (the `timeline` fixture) the checker draws what ran when.
    """

    def __init__(
        self,
        delays: dict[Any, float],
        failing: frozenset[Any] = frozenset(),
        answers: dict[Any, Any] | None = None,
        drawn: Any = None,
    ) -> None:
        self.delays = delays
        self.drawn = drawn
        self.failing = failing
        self.answers = answers or {}
        self.started: list[tuple[Any, float]] = []
        self.cancelled: list[Any] = []
        self.cleaned_up: list[Any] = []
        self.running: list[Any] = []
        self.tasks: dict[asyncio.Task[Any], Any] = {}

    async def __call__(self, name: Any) -> Any:
        if name not in self.delays:
            pytest.fail(f"fetch was called with {name!r}, which is not one of the inputs.")
        self.started.append((name, now()))
        self.running.append(name)
        task = asyncio.current_task()
        if task is not None:
            self.tasks[task] = name
        row = f"fetch({name!r})" + (" fails" if name in self.failing else "")
        try:
            with self.drawn.span(row) if self.drawn else contextlib.nullcontext():
                await asyncio.sleep(self.delays[name])
        except asyncio.CancelledError:
            self.cancelled.append(name)
            for _ in range(3):  # closing the connection takes a few turns of the loop
                await asyncio.sleep(0)
            self.cleaned_up.append(name)
            raise
        finally:
            self.running.remove(name)
        if name in self.failing:
            raise MirrorError(f"{name} is down")
        return self.answers.get(name, f"answer from {name}")

    def cancel_requested(self, name: Any) -> bool:
        """Whether someone cancelled the call for `name` (it may not have noticed yet)."""
        asked = any(task.cancelling() for task, of in self.tasks.items() if of == name)
        return asked or name in self.cancelled


@pytest.fixture
async def make_mirrors() -> AsyncIterator[Any]:
    """Builds FakeMirrors; after the test, stops any fake call that is still running."""
    made: list[FakeMirrors] = []

    def make(
        delays: dict[Any, float],
        failing: frozenset[Any] = frozenset(),
        answers: dict[Any, Any] | None = None,
        drawn: Any = None,
    ) -> FakeMirrors:
        made.append(FakeMirrors(delays, failing, answers, drawn))
        return made[-1]

    yield make
    leftovers = [task for fake in made for task in fake.tasks if not task.done()]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


@pytest.fixture
async def bystander() -> AsyncIterator[asyncio.Task[None]]:
    """A task that has nothing to do with the race; nobody should cancel it."""
    task = asyncio.create_task(asyncio.sleep(1000))
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def errors_in(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    """Every exception inside a (possibly nested) exception group."""
    found: list[BaseException] = []
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            found.extend(errors_in(error))
        else:
            found.append(error)
    return found


def check_losers_stopped(fake: FakeMirrors, losers: set[str], function: str) -> None:
    """Every loser was cancelled and has finished its cleanup."""
    left_running = sorted(n for n in losers if n in fake.running and not fake.cancel_requested(n))
    assert not left_running, (
        f"{function} ended while {left_running} were still running: nobody cancelled "
        "them. asyncio.wait and asyncio.as_completed never cancel anything; keep your own "
        "tasks (asyncio.create_task) and cancel the losers once you have your answer."
    )
    waited_for = sorted(n for n in losers if n not in fake.running and n not in fake.cancelled)
    assert not waited_for, (
        f"{function} waited for {waited_for} to finish, although it already had its "
        "answer. Cancel the losers (task.cancel()) as soon as you have the answer, instead "
        "of waiting for them."
    )
    still_cleaning = sorted(name for name in losers if name not in fake.cleaned_up)
    assert not still_cleaning, (
        f"{function} cancelled {still_cleaning} but ended before their cleanup had "
        "finished. task.cancel() only asks; the task runs its cleanup over the next turns "
        "of the loop. Await the cancelled tasks (asyncio.gather(*tasks, "
        "return_exceptions=True)) before you return."
    )
    assert not fake.running, f"{function} ended while {fake.running} were still running."


def check_bystander(bystander: asyncio.Task[None], function: str) -> None:
    assert not bystander.done(), (
        f"{function} cancelled a task that was not one of its own. Cancel only the tasks "
        "you created, not everything in asyncio.all_tasks()."
    )


async def call_first_success(fake: FakeMirrors, mirrors: Any, deadline: Any) -> Any:
    """first_success(fake, mirrors), failing clearly if it lets a mirror's error out."""
    errors: list[BaseException] = []
    try:
        async with deadline(60, f"first_success(fetch, {mirrors!r})"):
            return await first_success(fake, mirrors)
    except* MirrorError as group:  # a plain MirrorError, or one inside an ExceptionGroup
        errors = errors_in(group)
    pytest.fail(
        f"first_success raised {errors!r}, although a mirror answered. A failed mirror "
        "does not end the race: keep its error and wait for the other mirrors; raise only "
        "when every one of them has failed."
    )


async def test_first_success_returns_the_fastest_answer(looptime, deadline, make_mirrors) -> None:
    fake = make_mirrors({"slow": 3, "fast": 1, "medium": 2})
    result = await call_first_success(fake, ["slow", "fast", "medium"], deadline)
    assert result == "answer from fast", (
        f"first_success returned {result!r}; expected 'answer from fast', the answer of the "
        "mirror that answered first (after 1 second), not of the first mirror in the list."
    )
    assert sorted(fake.started) == [("fast", 0), ("medium", 0), ("slow", 0)], (
        f"The mirrors were started at these times: {fake.started}. first_success should "
        "ask every mirror at once, at 0 seconds, each one once."
    )
    assert looptime == 1, (
        f"first_success returned after {float(looptime)} seconds; the fastest mirror "
        "answered after 1. "
        + (
            "3 seconds is the slowest mirror: you waited for all of them (gather) before "
            "picking. Use asyncio.wait(..., return_when=FIRST_COMPLETED) or "
            "asyncio.as_completed to get the first answer as soon as it arrives."
            if looptime == 3
            else "Return as soon as the first answer arrives."
        )
    )


async def test_first_success_ignores_mirrors_that_fail(
    looptime, deadline, make_mirrors, bystander, timeline
) -> None:
    # "broken" fails after 0.25 s and "down" after 0.5 s; "ok" answers after 1.5 s,
    # "steady" (first in the list of those that work) only after 5 s.
    fake = make_mirrors(
        {"broken": 0.25, "steady": 5, "down": 0.5, "ok": 1.5},
        failing=frozenset({"broken", "down"}),
        drawn=timeline,
    )
    with timeline.span("first_success()"):
        result = await call_first_success(fake, ["broken", "steady", "down", "ok"], deadline)
    assert result == "answer from ok", (
        f"first_success returned {result!r}; expected 'answer from ok': 'broken' and "
        "'down' failed first, and 'ok' is the first mirror that succeeded (after 1.5 s)."
    )
    assert looptime == 1.5, (
        f"first_success returned after {float(looptime)} seconds; 'ok' answered after 1.5. "
        "Return the first success as soon as it arrives; don't wait for the other mirrors."
    )
    check_losers_stopped(fake, {"steady"}, "first_success")
    check_bystander(bystander, "first_success")


async def test_first_success_when_every_mirror_fails_raises_an_exception_group(
    looptime, deadline, make_mirrors
) -> None:
    mirrors = ("a", "b", "c")
    fake = make_mirrors({"a": 0.5, "b": 1.5, "c": 0.25}, failing=frozenset(mirrors))
    group: BaseExceptionGroup[Any] | None = None
    result: object = None
    try:
        async with deadline(60, "first_success(fetch, ('a', 'b', 'c'))"):
            result = await first_success(fake, mirrors)
    except BaseExceptionGroup as raised:
        group = raised
    except MirrorError as error:
        pytest.fail(
            f"Every mirror failed, and first_success raised just one error: {error!r}. "
            "Report all of them: collect every mirror's error and raise "
            "ExceptionGroup('...', errors) once all the mirrors have failed."
        )
    assert group is not None, (
        f"Every mirror failed, but first_success returned {result!r}. When no mirror "
        "succeeds, raise an ExceptionGroup with every mirror's error."
    )
    errors = errors_in(group)
    messages = sorted(str(error) for error in errors if isinstance(error, MirrorError))
    assert messages == ["a is down", "b is down", "c is down"] and len(errors) == 3, (
        f"first_success raised an exception group holding {errors!r}; expected the three "
        "MirrorErrors of 'a', 'b' and 'c', one per mirror of this call (collect them in a "
        "fresh list every call)."
    )
    assert looptime == 1.5, (
        f"first_success gave up after {float(looptime)} seconds; the last mirror failed at "
        "1.5. "
        + (
            "Until then another mirror could still have answered."
            if looptime < 1.5
            else "Give up the moment the last one fails: asyncio.wait and as_completed wake "
            "you as soon as a task is done; don't check every so often with sleep."
        )
    )
    try:
        async with deadline(60, "first_success(fetch, [])"):
            result = await first_success(fake, [])
    except ValueError:
        pass
    else:
        pytest.fail(
            f"first_success(fetch, []) returned {result!r}. With no mirrors there is no "
            "answer and no error to report: raise ValueError."
        )
    assert len(fake.started) == 3, "With no mirrors, first_success should not call fetch."


async def test_first_success_of_many_mirrors_finds_the_one_that_works(
    looptime, deadline, make_mirrors
) -> None:
    # 30 mirrors; only m17 (2.75 s) and m03 (3.5 s) work. Some fail early, some late.
    # m17's answer is None: an empty answer, but an answer (only an exception is a failure).
    names = tuple(f"m{n:02}" for n in range(30))
    fail_after = (0.25, 0.5, 1, 1.5, 2, 2.5, 3.25, 4)
    delays = {name: fail_after[n % 8] for n, name in enumerate(names)}
    delays.update({"m17": 2.75, "m03": 3.5, "m08": 4.25, "m29": 6})
    working = {"m17", "m03"}
    fake = make_mirrors(delays, failing=frozenset(set(names) - working), answers={"m17": None})
    result = await call_first_success(fake, names, deadline)
    assert result is None, (
        f"With 30 mirrors of which only m17 (after 2.75 s) and m03 (after 3.5 s) work, "
        f"first_success returned {result!r}; expected None, the answer of m17. None is a "
        "real answer: only a mirror that raises an exception has failed, so don't use "
        "None (or any other value) to mark a failure."
    )
    assert Counter(name for name, _ in fake.started) == Counter(names), (
        "With 30 mirrors, every mirror should be asked exactly once; these were asked: "
        f"{sorted(name for name, _ in fake.started)}."
    )
    assert {at for _, at in fake.started} == {0}, (
        "Every mirror should be asked at once, at 0 seconds; some started later: "
        f"{sorted((at, name) for name, at in fake.started if at)}."
    )
    assert looptime == 2.75, (
        f"first_success returned after {float(looptime)} seconds; m17 answered after 2.75. "
        "Return the moment the answer arrives: asyncio.wait and as_completed wake you as "
        "soon as a task is done; don't check every so often with sleep."
    )
    losers = {name for name in names if delays[name] > 2.75}
    check_losers_stopped(fake, losers, "first_success")


async def test_first_success_cancelled_by_its_caller_stops_every_mirror(
    looptime, deadline, make_mirrors
) -> None:
    fake = make_mirrors({"a": 5, "b": 7.5, "c": 0.5}, failing=frozenset({"c"}))
    task = asyncio.create_task(first_success(fake, ["a", "b", "c"]))
    await asyncio.sleep(1)  # 'c' has failed; 'a' and 'b' are still working
    if task.done():
        error = task.exception()
        if error is not None and not isinstance(error, MirrorError | BaseExceptionGroup):
            task.result()  # anything else it raised goes up as it is
        what = f"returned {task.result()!r}" if error is None else f"raised {error!r}"
        pytest.fail(
            f"first_success {what} after 1 second, when only 'c' had failed and 'a' and "
            "'b' were still working. Wait for the other mirrors."
        )
    task.cancel()
    async with deadline(60, "first_success, after its caller cancelled it"):
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled(), (
        "first_success was cancelled by its caller, but it did not end cancelled: "
        + (
            f"it raised {task.exception()!r}."
            if task.exception() is not None
            else f"it returned {task.result()!r}."
        )
        + " Let CancelledError go on up (clean up in a `finally`; don't catch it)."
    )
    check_losers_stopped(fake, {"a", "b"}, "first_success, cancelled by its caller,")
    assert looptime == 1, (
        f"first_success took until {float(looptime)} seconds to stop after being "
        "cancelled at 1 second."
    )


async def test_hedged_starts_a_backup_only_when_the_first_is_slow(
    looptime, deadline, make_mirrors
) -> None:
    fake = make_mirrors({"primary": 0.75, "backup": 0.25})
    async with deadline(60, "hedged(fetch, ('primary', 'backup'), delay=1)"):
        result = await hedged(fake, ("primary", "backup"), 1)
    assert fake.started == [("primary", 0)], (
        f"hedged started {fake.started} (mirror, seconds); expected only 'primary' at 0. "
        "'primary' answered after 0.75 s, before the 1-second delay was up, so no backup "
        "was needed. Start a backup only when `delay` seconds pass without an answer."
    )
    assert result == "answer from primary", f"hedged returned {result!r}."
    assert looptime == 0.75, f"hedged returned after {float(looptime)} seconds, not 0.75."


async def test_hedged_cancelled_by_its_caller_stops_every_mirror(
    looptime, deadline, make_mirrors
) -> None:
    fake = make_mirrors({"m0": 5, "m1": 5, "m2": 0.25})
    task = asyncio.create_task(hedged(fake, ["m0", "m1", "m2"], 1))
    await asyncio.sleep(1.5)  # m0 started at 0 and m1 at 1; both are still working
    if task.done():
        task.result()  # anything it raised goes up as it is
        pytest.fail(f"hedged returned {task.result()!r} before any mirror had answered.")
    task.cancel()
    async with deadline(60, "hedged, after its caller cancelled it"):
        await asyncio.gather(task, return_exceptions=True)
    if not task.cancelled():
        error = task.exception()
        what = f"raised {error!r}" if error else f"returned {task.result()!r}"
        pytest.fail(
            f"hedged was cancelled by its caller, but it did not end cancelled: it {what}. "
            "Let CancelledError go on up (clean up in a `finally`; don't catch it)."
        )
    check_losers_stopped(fake, {"m0", "m1"}, "hedged, cancelled by its caller,")
    await asyncio.sleep(3)
    assert [name for name, _ in fake.started] == ["m0", "m1"], (
        f"hedged was cancelled at 1.5 seconds, but later it still started more mirrors: "
        f"{fake.started} (mirror, seconds). Once hedged is cancelled, nothing new may start."
    )


async def test_hedged_starts_the_next_mirror_each_time_the_delay_is_up(
    looptime, deadline, make_mirrors, bystander, timeline
) -> None:
    # Each mirror gets 1.5 s before the next one starts: m0 at 0, m1 at 1.5, m2 at 3.
    # m2 answers (None, a real answer) 0.5 s later, at 3.5 s: m0 and m1 lose, and m3 is
    # never needed.
    fake = make_mirrors(
        {"m0": 10, "m1": 10, "m2": 0.5, "m3": 0.25}, answers={"m2": None}, drawn=timeline
    )
    mirrors = ["m0", "m1", "m2", "m3"]
    async with deadline(60, f"hedged(fetch, {mirrors}, delay=1.5)"):
        with timeline.span("hedged()"):
            result = await hedged(fake, mirrors, 1.5)
    assert fake.started == [("m0", 0), ("m1", 1.5), ("m2", 3)], (
        f"hedged started these mirrors (mirror, seconds): {fake.started}; expected "
        "[('m0', 0), ('m1', 1.5), ('m2', 3)]: one more mirror each time 1.5 seconds pass "
        "without an answer, and none after m2 answered at 3.5."
    )
    assert result is None, (
        f"hedged returned {result!r}; expected m2's answer, None. None is a real answer: "
        "only a mirror that raises an exception has failed."
    )
    assert looptime == 3.5, f"hedged returned after {float(looptime)} seconds, not 3.5."
    check_losers_stopped(fake, {"m0", "m1"}, "hedged")
    check_bystander(bystander, "hedged")
    assert mirrors == ["m0", "m1", "m2", "m3"], f"hedged changed the caller's list: {mirrors}."


async def test_hedged_starts_the_next_mirror_at_once_when_one_fails(
    looptime, deadline, make_mirrors, timeline
) -> None:
    # delay 2. m0 fails at 0.25, so m1 starts at once. m1 is slow: 2 s after its start, at
    # 2.25, m2 starts. m1 and m2 both fail at 2.75, so m3 and m4 both start then; m4
    # answers 0.5 s later, at 3.25, while m3 is still working. m5 is never needed.
    fake = make_mirrors(
        {"m0": 0.25, "m1": 2.5, "m2": 0.5, "m3": 5, "m4": 0.5, "m5": 0.25},
        failing=frozenset({"m0", "m1", "m2"}),
        drawn=timeline,
    )
    mirrors = ("m0", "m1", "m2", "m3", "m4", "m5")
    errors: list[BaseException] = []
    result = None
    try:
        async with deadline(60, f"hedged(fetch, {mirrors}, delay=2)"):
            with timeline.span("hedged()"):
                result = await hedged(fake, mirrors, 2)
    except* MirrorError as group:
        errors = errors_in(group)
    assert not errors, (
        f"hedged raised {errors!r}, although mirrors were left to try (m4 would have "
        "answered). A failed mirror does not end the race: start the next one at once and "
        "keep waiting."
    )
    expected = [("m0", 0), ("m1", 0.25), ("m2", 2.25), ("m3", 2.75), ("m4", 2.75)]
    assert fake.started == expected, (
        f"hedged started these mirrors (mirror, seconds): {fake.started}; expected "
        f"{expected}. When a mirror fails, start the next one at once (there's no point "
        "waiting out the delay), one new mirror for every failure, even when two fail at "
        "the same moment. The delay counts from the last start."
    )
    assert result == "answer from m4", f"hedged returned {result!r}; expected m4's answer."
    assert looptime == 3.25, f"hedged returned after {float(looptime)} seconds, not 3.25."
    check_losers_stopped(fake, {"m3"}, "hedged")


async def test_hedged_when_every_mirror_fails_raises_an_exception_group(
    looptime, deadline, make_mirrors
) -> None:
    # delay 1: m0 at 0, m1 at 1, m2 at 2. m0 fails at 2.5: m3 starts at once and fails at
    # 2.75: m4 starts at once. Then m2 fails at 3.25, m1 at 4 and m4 (the last) at 4.75.
    delays = {"m0": 2.5, "m1": 3, "m2": 1.25, "m3": 0.25, "m4": 2}
    fake = make_mirrors(delays, failing=frozenset(delays))
    mirrors = ["m0", "m1", "m2", "m3", "m4"]
    group: BaseExceptionGroup[Any] | None = None
    result: object = None
    try:
        async with deadline(60, f"hedged(fetch, {mirrors}, delay=1)"):
            result = await hedged(fake, mirrors, 1)
    except BaseExceptionGroup as raised:
        group = raised
    except MirrorError as error:
        pytest.fail(
            f"Every mirror failed, and hedged raised just one error: {error!r}. Raise an "
            "ExceptionGroup with every mirror's error once all of them have failed."
        )
    assert fake.started == [("m0", 0), ("m1", 1), ("m2", 2), ("m3", 2.5), ("m4", 2.75)], (
        f"hedged started these mirrors (mirror, seconds): {fake.started}; expected "
        "[('m0', 0), ('m1', 1), ('m2', 2), ('m3', 2.5), ('m4', 2.75)]: one more every "
        "second without an answer, and one more at once each time any running mirror "
        "fails (m0 at 2.5, m3 at 2.75), even if it was not the last one started."
    )
    assert group is not None, (
        f"Every mirror failed, but hedged returned {result!r}. Raise an ExceptionGroup."
    )
    errors = errors_in(group)
    messages = sorted(str(error) for error in errors if isinstance(error, MirrorError))
    assert messages == [f"{name} is down" for name in mirrors] and len(errors) == 5, (
        f"hedged raised an exception group holding {errors!r}; expected the five "
        "MirrorErrors, one per mirror."
    )
    assert looptime == 4.75, (
        f"hedged gave up after {float(looptime)} seconds; the last mirror failed at 4.75."
    )
    try:
        async with deadline(60, "hedged(fetch, [], delay=1)"):
            result = await hedged(fake, [], 1)
    except ValueError:
        pass
    else:
        pytest.fail(
            f"hedged(fetch, [], delay=1) returned {result!r}. With no mirrors there is no "
            "answer and no error to report: raise ValueError."
        )


async def read_pairs(
    fetch: FakeMirrors, items: Any, log: list[tuple[float, Any, Any]], stop_after: int = -1
) -> None:
    """Read in_finish_order(fetch, items), noting when each pair arrives; stop early if asked."""
    pairs = in_finish_order(fetch, items)
    if inspect.iscoroutine(pairs):
        pairs.close()
        pytest.fail(
            "in_finish_order returned a coroutine, so `async for` cannot read it. Make it "
            "an async generator: an `async def` that hands over each pair with `yield`."
        )
    async with aclosing(pairs):
        async for pair in pairs:
            if isinstance(pair, BaseException):
                pytest.fail(
                    f"in_finish_order yielded the error {pair!r} as a value; it should "
                    "raise it instead."
                )
            item, value = pair
            log.append((now(), item, value))
            if len(log) == stop_after:
                break


async def test_in_finish_order_yields_each_result_as_soon_as_it_finishes(
    looptime, deadline, make_mirrors
) -> None:
    delays = {n: 0.25 * ((n * 7) % 26 + 1) for n in range(26)}  # 0.25 s to 6.5 s, all different
    items = [*range(13, 26), *range(13), 5]  # 27 items: 5 is in there twice
    original = list(items)
    expected = sorted((delays[n], n, f"answer from {n}") for n in items)
    fake = make_mirrors(delays)
    log: list[tuple[float, Any, Any]] = []
    async with deadline(60, "reading in_finish_order(fetch, items)"):
        await read_pairs(fake, items, log)
    assert len(log) == len(expected), (
        f"in_finish_order handed over {len(log)} pairs for {len(items)} items; expected one "
        "pair per item. Item 5 is listed twice: it is fetched twice and comes twice."
    )
    late = [(item, delays[item], at) for at, item, _ in log if at != delays[item]]
    assert not late, (
        "in_finish_order handed pairs over later than their fetch finished; (item, finished "
        f"at, handed over at): {late[:4]}{' and more' if len(late) > 4 else ''}. "
        + (
            "They all arrived at the end: you waited for every fetch before yielding."
            if {at for at, _, _ in log} == {6.5}
            else "Yield each pair as soon as its fetch is done, in the order they finish "
            "(asyncio.as_completed), not in the order of items."
        )
    )
    assert Counter(log) == Counter(expected), (
        f"in_finish_order handed over these (seconds, item, result): {log[:5]} ...; "
        f"expected {expected[:5]} ...: each item with its own result."
    )
    assert Counter(name for name, _ in fake.started) == Counter(items), (
        "Every item should be fetched once per time it appears in items."
    )
    assert items == original, f"in_finish_order changed the caller's list: {items}."
    assert looptime == 6.5, f"Reading every pair took {float(looptime)} seconds, not 6.5."
    empty: list[tuple[float, Any, Any]] = []
    async with deadline(60, "reading in_finish_order(fetch, [])"):
        await read_pairs(fake, [], empty)
    assert empty == [], f"in_finish_order(fetch, []) yielded {empty}; expected nothing."


async def test_in_finish_order_closed_early_stops_the_fetches_still_running(
    looptime, deadline, make_mirrors, bystander
) -> None:
    fake = make_mirrors({"a": 1, "b": 2, "c": 5, "d": 7.5})
    log: list[tuple[float, Any, Any]] = []
    async with deadline(60, "reading two pairs of in_finish_order(fetch, ('a', 'b', 'c', 'd'))"):
        await read_pairs(fake, ("a", "b", "c", "d"), log, stop_after=2)
    assert [(at, item) for at, item, _ in log] == [(1, "a"), (2, "b")], (
        f"The first two pairs arrived as (seconds, item): {[(at, i) for at, i, _ in log]}; "
        "expected [(1, 'a'), (2, 'b')]."
    )
    check_losers_stopped(fake, {"c", "d"}, "in_finish_order, closed early,")
    assert looptime == 2, (
        f"Closing in_finish_order after two pairs ended at {float(looptime)} seconds, not 2. "
        "Cancel the fetches still running instead of waiting for them."
    )
    check_bystander(bystander, "in_finish_order")


async def test_in_finish_order_raises_a_failed_fetch_and_stops_the_rest(
    looptime, deadline, make_mirrors
) -> None:
    fake = make_mirrors({"a": 1, "bad": 2, "c": 3, "d": 4.5}, failing=frozenset({"bad"}))
    log: list[tuple[float, Any, Any]] = []
    errors: list[BaseException] = []
    try:
        async with deadline(60, "reading in_finish_order(fetch, ['a', 'bad', 'c', 'd'])"):
            await read_pairs(fake, ["a", "bad", "c", "d"], log)
    except* MirrorError as group:  # the error itself, or inside an ExceptionGroup
        errors = errors_in(group)
    assert [str(error) for error in errors] == ["bad is down"], (
        "Fetching 'bad' failed after 2 seconds, but in_finish_order "
        + (f"raised {errors!r}" if errors else f"handed over {log} and raised nothing")
        + ". Raise the error of the failed fetch when its turn comes."
    )
    assert [(at, item) for at, item, _ in log] == [(1, "a")], (
        f"Before the error, in_finish_order handed over (seconds, item): "
        f"{[(at, i) for at, i, _ in log]}; expected [(1, 'a')], the one that finished first."
    )
    check_losers_stopped(fake, {"c", "d"}, "in_finish_order, after a failed fetch,")
    assert looptime == 2, (
        f"The error reached the caller at {float(looptime)} seconds; 'bad' failed at 2."
    )
