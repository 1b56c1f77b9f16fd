"""Kata 05 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Coroutine
from typing import Any

import pytest
from errors import NotFound, fetch_all_or_none, fetch_settled

CLEANUP_TURNS = 3  # closing a connection takes a few turns of the event loop


class Plan:
    """What fetch(id) does: take `seconds`, then return "item <id>" or raise `error`."""

    def __init__(self, seconds: float, error: BaseException | None = None) -> None:
        self.seconds = seconds
        self.error = error


class FakeService:
    """A fake slow service. fetch(id) follows plans[id] and writes down what happened.

    When a fetch is cancelled it closes its connection, which takes a few turns of the
    event loop, before it lets the CancelledError go on. With `drawn` (the `timeline`
    fixture) the checker draws what ran when.
    """

    def __init__(self, plans: dict[int, Plan], drawn: Any = None) -> None:
        self.plans = plans
        self.drawn = drawn
        self.calls: list[int] = []
        self.cancelled: list[int] = []
        self.cleaned_up: list[int] = []
        self.finished: list[int] = []
        self.running = 0
        self.peak = 0

    async def fetch(self, item_id: int) -> str:
        if item_id not in self.plans:
            pytest.fail(f"fetch was called with {item_id!r}, which is not one of the ids.")
        plan = self.plans[item_id]
        self.calls.append(item_id)
        self.running += 1
        self.peak = max(self.peak, self.running)
        name = f"fetch({item_id})" + (" fails" if plan.error is not None else "")
        try:
            with self.drawn.span(name) if self.drawn else contextlib.nullcontext():
                await asyncio.sleep(plan.seconds)
        except asyncio.CancelledError:
            self.cancelled.append(item_id)
            for _ in range(CLEANUP_TURNS):
                await asyncio.sleep(0)
            self.cleaned_up.append(item_id)
            raise
        finally:
            self.running -= 1
        self.finished.append(item_id)
        if plan.error is not None:
            raise plan.error
        return f"item {item_id}"

    def still_running(self) -> list[int]:
        """The ids whose fetch started and has not ended yet (cleanup included)."""
        ended = Counter(self.finished) + Counter(self.cleaned_up)
        return sorted((Counter(self.calls) - ended).elements())


def same_entry(got: object, want: object) -> bool:
    """A result equal to the expected one, or the very exception (or one just like it)."""
    if isinstance(want, BaseException):
        return got is want or (type(got) is type(want) and got.args == want.args)
    return type(got) is type(want) and got == want


def fail_if_raised_a_fetch_error(group: BaseExceptionGroup, planned: list[BaseException]) -> None:
    """fetch_settled raised one of the errors the fakes raised: say so in plain words."""
    mine = [e for e in group.exceptions if any(e is p or e.args == p.args for p in planned)]
    if mine:
        pytest.fail(
            f"fetch_settled raised {mine[0]!r}, the error of one failed fetch, and every other "
            "result was lost. fetch_settled returns errors, it does not raise them: use "
            "asyncio.gather(..., return_exceptions=True) (a plain gather or a TaskGroup "
            "raises the first error)."
        )


def describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "...]"


async def start_bystander() -> asyncio.Task[None]:
    """An unrelated task, busy on the same event loop: it is none of your code's business."""
    bystander = asyncio.create_task(asyncio.sleep(3600), name="bystander")
    await asyncio.sleep(0)
    return bystander


async def stop_bystander(bystander: asyncio.Task[None], what: str) -> None:
    assert not bystander.done(), (
        f"{what} cancelled a task that had nothing to do with it (another part of the "
        "program was running it on the same event loop). Cancel only the fetches you "
        "started: keep their tasks, or let a TaskGroup do it; never every task on the loop."
    )
    bystander.cancel()
    await asyncio.gather(bystander, return_exceptions=True)


async def run_and_cancel(
    call: Coroutine[Any, Any, Any], service: FakeService, at: float, what: str, deadline
) -> tuple[asyncio.Task[Any], list[int]]:
    """Run `call` in a task, cancel that task `at` seconds in, wait until it has ended.

    Returns the task and the fetches that were still running at the very moment the
    call ended.
    """
    snapshot: list[int] = []

    async def call_then_look() -> Any:
        try:
            return await call
        finally:
            snapshot.extend(service.still_running())

    task = asyncio.create_task(call_then_look())
    await asyncio.sleep(at)
    if task.done():
        error = None if task.cancelled() else task.exception()
        if error is None or isinstance(error, NotImplementedError):
            task.result()  # the stub's NotImplementedError, or CancelledError
            pytest.fail(f"{what} returned {describe(task.result())} before the fetches ended.")
        raise AssertionError(
            f"{what} raised {error!r} before its caller cancelled it at {at} seconds. "
            + (
                "fetch_settled returns the error of a failed fetch in the list; it does not "
                "raise it."
                if what == "fetch_settled"
                else ""
            )
        ) from error
    task.cancel()
    async with deadline(60, f"{what}, after its caller cancelled it"):
        await asyncio.wait([task])
    return task, snapshot


def check_ended_cancelled(task: asyncio.Task[Any], what: str) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        raise AssertionError(
            f"When its caller cancelled it, {what} raised {error!r} instead of letting the "
            "CancelledError go on."
        ) from error
    pytest.fail(
        f"The caller cancelled {what}, but it swallowed the CancelledError and returned "
        f"{describe(task.result())}. Cancellation is a BaseException, not an Exception: "
        "don't catch it (not with `except BaseException` nor a bare `except:`), or raise "
        "it again, so that the caller's task ends cancelled."
    )


# -- fetch_settled: partial results --------------------------------------------------


async def test_fetch_settled_keeps_every_result_and_error_in_the_order_of_ids(
    looptime, deadline
) -> None:
    # 30 ids, one of them twice; they finish in a jumbled order and five of them fail.
    plans = {i: Plan(0.25 * ((i * 7) % 13) + 0.5) for i in range(1, 30)}
    for i, error in [
        (3, LookupError("item 3 is gone")),
        (8, ConnectionError("connection reset")),
        (14, ValueError("bad item 14")),
        (21, TimeoutError("item 21 timed out")),
        (29, ExceptionGroup("two problems", [KeyError("a"), OSError("b")])),
    ]:
        plans[i].error = error
    ids = (12, 3, 27, 8, 1, 29, 16, 14, 5, 22, 9, 21, 18, 2, 25, 7, 11, 3, 24, 6, 19, 13)
    ids += (28, 4, 15, 20, 10, 26, 17, 23)
    expected: list[object] = [
        plans[i].error if plans[i].error is not None else f"item {i}" for i in ids
    ]
    slowest = max(plans[i].seconds for i in ids)
    service = FakeService(plans)
    planned = [plan.error for plan in plans.values() if plan.error is not None]
    planned += [KeyError("a"), OSError("b")]  # what is inside the group of fetch(29)
    try:
        async with deadline(600, "fetch_settled(fetch, ids)"):
            result = await fetch_settled(service.fetch, ids)
    except* (LookupError, ConnectionError, ValueError, TimeoutError, OSError) as group:
        fail_if_raised_a_fetch_error(group, planned)
        raise
    assert isinstance(result, list) and len(result) == len(ids), (
        f"fetch_settled(fetch, ids) with {len(ids)} ids returned {describe(result)}; it "
        f"should return a list with one entry per id: {len(ids)} entries."
    )
    wrong = [
        (item_id, got, want)
        for item_id, got, want in zip(ids, result, expected, strict=True)
        if not same_entry(got, want)
    ]
    if wrong:
        item_id, got, want = wrong[0]
        if isinstance(want, BaseException):
            pytest.fail(
                f"fetch({item_id}) raised {want!r}, but fetch_settled put {describe(got)} in its "
                "place. A failed fetch's entry is the exception object it raised, unchanged: "
                "not None, not a default, not a message. asyncio.gather(..., "
                "return_exceptions=True) hands it to you."
            )
        if sorted(map(repr, result)) == sorted(map(repr, expected)):
            pytest.fail(
                "fetch_settled returned the right entries in the wrong order (the order the "
                "fetches finished in?). Entry k must belong to ids[k]: asyncio.gather keeps "
                "the order you pass things in; asyncio.as_completed does not."
            )
        pytest.fail(
            f"The entry for id {item_id} is {describe(got)}; expected {want!r}. Every entry "
            "belongs to the id at the same place in ids."
        )
    assert Counter(service.calls) == Counter(ids), (
        f"fetch_settled made these calls: {service.calls}; expected one call per id "
        "(id 3 is in ids twice, so it is fetched twice)."
    )
    assert service.cancelled == [], (
        f"The fetches of ids {service.cancelled} were cancelled. With partial results a "
        "failure stops nothing: every other fetch runs to its end."
    )
    assert service.peak == len(ids), (
        f"At most {service.peak} of the {len(ids)} fetches ran at the same time; all of "
        "them should. Start every fetch, then wait for them together."
    )
    assert looptime == slowest, (
        f"fetch_settled took {float(looptime)} seconds; the slowest fetch takes {slowest}. "
        "All at once, the batch takes as long as the slowest fetch."
    )


async def test_fetch_settled_returns_errors_instead_of_raising(
    looptime, deadline, timeline
) -> None:
    boom = ArithmeticError("boom")
    refused = ConnectionRefusedError("refused")
    service = FakeService(
        {1: Plan(0.75, refused), 2: Plan(2.5), 3: Plan(0.25, boom), 4: Plan(1.5)}, drawn=timeline
    )
    ids = [3, 1, 2, 4]
    ids_before = list(ids)
    try:
        async with deadline(60, "fetch_settled(fetch, [3, 1, 2, 4])"):
            with timeline.span("fetch_settled()"):
                result = await fetch_settled(service.fetch, ids)
    except* (ArithmeticError, ConnectionError) as group:
        fail_if_raised_a_fetch_error(group, [boom, refused])
        raise
    assert ids == ids_before, f"fetch_settled changed the caller's list of ids to {ids}."
    assert service.still_running() == [], (
        f"fetch_settled returned while the fetches of ids {service.still_running()} were "
        "still running. Wait for every fetch before you return."
    )
    assert isinstance(result, list) and len(result) == 4, (
        f"fetch_settled returned {describe(result)}; expected a list of 4 entries."
    )
    assert result[0] is boom, (
        f"fetch(3) raised {boom!r} after 0.25 seconds; its entry should be that very "
        f"exception, but it is {result[0]!r}."
    )
    assert isinstance(result[1], ConnectionRefusedError), (
        f"fetch(1) raised ConnectionRefusedError('refused'); its entry is {result[1]!r}."
    )
    assert result[2:] == ["item 2", "item 4"], (
        f"The fetches of 2 and 4 succeeded after the others failed, but their entries are "
        f"{result[2:]!r}; expected ['item 2', 'item 4']. One failure must not lose the "
        "other results."
    )
    assert looptime == 2.5, (
        f"fetch_settled returned at {float(looptime)} seconds; the last fetch finished at "
        "2.5. Wait for all of them, failed or not."
    )
    async with deadline(60, "fetch_settled(fetch, ())"):
        empty = await fetch_settled(service.fetch, ())
    assert empty == [], f"fetch_settled(fetch, ()) returned {describe(empty)}; expected []."


async def test_fetch_settled_does_not_treat_cancellation_as_a_result(deadline) -> None:
    # fetch(2) ends with CancelledError after 0.75 seconds, as when the library under it
    # is shut down: that is not a failed fetch but a signal to stop.
    service = FakeService({1: Plan(0.5), 2: Plan(0.75, asyncio.CancelledError()), 3: Plan(1.25)})
    snapshot: list[int] = []

    async def call_then_look() -> list[object]:
        try:
            return await fetch_settled(service.fetch, (1, 2, 3))
        finally:
            snapshot.extend(service.still_running())

    task = asyncio.create_task(call_then_look())
    async with deadline(60, "fetch_settled(fetch, (1, 2, 3))"):
        await asyncio.wait([task])
    if not task.cancelled() and task.exception() is None:
        result = task.result()
        kind = (
            "put a CancelledError in the list"
            if any(isinstance(entry, asyncio.CancelledError) for entry in result)
            else "returned"
        )
        pytest.fail(
            f"fetch(2) ended with CancelledError, and fetch_settled {kind}: "
            f"{describe(result)}. Only an `Exception` is a failed fetch. CancelledError is "
            "a BaseException on purpose: it means stop. Test entries with "
            "isinstance(entry, Exception), and raise anything else again."
        )
    if not task.cancelled():
        task.result()  # the error your code raised instead
    assert snapshot == [], (
        f"fetch_settled raised CancelledError while the fetches of ids {snapshot} were still "
        "running. Whatever it raises, no fetch may be left running."
    )


async def test_fetch_settled_cancelled_by_its_caller_cancels_every_fetch(
    looptime, deadline
) -> None:
    service = FakeService({i: Plan(0.5 + 0.25 * i) for i in range(1, 26)})
    service.plans[4].error = LookupError("item 4 is gone")  # fails at 1.5, before the cancel
    bystander = await start_bystander()
    task, snapshot = await run_and_cancel(
        fetch_settled(service.fetch, range(1, 26)), service, 1.875, "fetch_settled", deadline
    )
    check_ended_cancelled(task, "fetch_settled")
    assert snapshot == [], (
        f"fetch_settled ended while the fetches of ids {snapshot} were still running or "
        "still cleaning up. When it is cancelled, it must cancel every fetch and wait until "
        "they have stopped (asyncio.gather and TaskGroup both do this for you)."
    )
    assert sorted(service.cleaned_up) == list(range(6, 26)), (
        f"Cancelled at 1.875 seconds, fetch_settled let ids {sorted(service.finished)} finish "
        f"and cancelled {sorted(service.cancelled)}; expected 1 to 5 finished and 6 to 25 "
        "cancelled, at once."
    )
    assert looptime == 1.875, (
        f"fetch_settled ended {float(looptime)} seconds in; it was cancelled at 1.875 and "
        "should stop right then."
    )
    await stop_bystander(bystander, "fetch_settled")


# -- fetch_all_or_none: fail fast ----------------------------------------------------


async def test_fetch_all_or_none_returns_every_result_in_the_order_of_ids(
    looptime, deadline
) -> None:
    plans = {i: Plan(0.25 * ((i * 5) % 11) + 0.75) for i in range(1, 26)}
    ids = (17, 4, 23, 9, 1, 14, 25, 6, 20, 11, 3, 18, 8, 24, 13, 2, 21, 10, 16, 5, 22, 7, 4)
    ids += (19, 12, 15)
    expected = [f"item {i}" for i in ids]
    slowest = max(plans[i].seconds for i in ids)
    service = FakeService(plans)
    async with deadline(60, "fetch_all_or_none(fetch, ids)"):
        result = await fetch_all_or_none(service.fetch, ids)
    assert result == expected, (
        f"fetch_all_or_none returned {describe(result)}; expected {describe(expected)}: one "
        "result per id (id 4 is there twice), in the order of ids, as a list."
        + (
            " You have the right results in the order the fetches finished in."
            if isinstance(result, list) and sorted(result) == sorted(expected)
            else ""
        )
    )
    assert isinstance(result, list), f"fetch_all_or_none returned a {type(result).__name__}."
    assert Counter(service.calls) == Counter(ids), (
        f"fetch_all_or_none made these calls: {service.calls}; expected one per id."
    )
    assert service.peak == len(ids), (
        f"At most {service.peak} of the {len(ids)} fetches ran at the same time; all of them "
        "should."
    )
    assert looptime == slowest, (
        f"fetch_all_or_none took {float(looptime)} seconds; the slowest fetch takes {slowest}."
    )
    async with deadline(60, "fetch_all_or_none(fetch, [])"):
        empty = await fetch_all_or_none(service.fetch, [])
    assert empty == [], f"fetch_all_or_none(fetch, []) returned {describe(empty)}; expected []."


async def test_fetch_all_or_none_cancels_the_rest_at_the_first_error(
    looptime, deadline, timeline
) -> None:
    service = FakeService({i: Plan(2.5 + 0.25 * i) for i in range(1, 21)}, drawn=timeline)
    service.plans[13] = Plan(1.5, ConnectionError("connection reset"))
    bystander = await start_bystander()
    errors: list[ConnectionError] = []
    result: object = "nothing"
    try:
        async with deadline(60, "fetch_all_or_none(fetch, range(1, 21))"):
            with timeline.span("fetch_all_or_none()"):
                result = await fetch_all_or_none(service.fetch, range(1, 21))
    except* ConnectionError as group:  # raised alone, or inside an ExceptionGroup
        errors.extend(group.exceptions)  # type: ignore[arg-type]
    running = service.still_running()
    raised_at = float(looptime)
    assert errors, (
        "fetch(13) raised ConnectionError('connection reset'), but fetch_all_or_none "
        f"returned {describe(result)} instead of raising it. Only NotFound means None; any "
        "other error must reach the caller (don't catch it, don't log it and carry on)."
    )
    assert running == [], (
        f"fetch_all_or_none raised while the fetches of ids {running} were still running or "
        "still cleaning up. Cancel the other fetches and wait until they have stopped "
        "(task.cancel() only asks; an asyncio.TaskGroup does both for you)."
    )
    assert sorted(service.cleaned_up) == [i for i in range(1, 21) if i != 13], (
        f"These fetches ran on to the end after fetch(13) failed: {sorted(service.finished)}. "
        "Fail fast: cancel every other fetch at once, instead of waiting for them "
        "(gather with return_exceptions=True waits for all of them)."
    )
    assert raised_at == 1.5, (
        f"fetch_all_or_none raised at {raised_at} seconds; fetch(13) failed at 1.5 and every "
        "other fetch can be cancelled right then."
    )
    await stop_bystander(bystander, "fetch_all_or_none")


async def test_fetch_all_or_none_returns_none_when_an_item_is_not_found(looptime, deadline) -> None:
    service = FakeService({i: Plan(1 + 0.5 * i) for i in range(1, 16)})
    service.plans[6] = Plan(0.75, NotFound("no item 6"))
    result: object = "nothing"
    let_out = False
    try:
        async with deadline(60, "fetch_all_or_none(fetch, range(1, 16))"):
            result = await fetch_all_or_none(service.fetch, tuple(range(1, 16)))
    except* NotFound:  # alone, or inside an ExceptionGroup
        let_out = True
    running = service.still_running()
    if let_out:
        pytest.fail(
            "fetch(6) raised NotFound, and fetch_all_or_none let it out. NotFound means "
            "the item does not exist: return None for it (`except* NotFound` around the "
            "TaskGroup catches it inside the group)."
        )
    assert result is None, (
        f"fetch(6) raised NotFound, so fetch_all_or_none should return None, not "
        f"{describe(result)}. A NotFound means the whole answer is None, not one missing item."
    )
    assert running == [], (
        f"fetch_all_or_none returned None while the fetches of ids {running} were still "
        "running or still cleaning up. Cancel the other fetches and wait until they have "
        "stopped before you return."
    )
    assert sorted(service.cleaned_up) == [i for i in range(1, 16) if i != 6], (
        f"These fetches ran on to the end after fetch(6) failed: {sorted(service.finished)}. "
        "Cancel the others as soon as one fails."
    )
    assert looptime == 0.75, (
        f"fetch_all_or_none returned at {float(looptime)} seconds; fetch(6) failed at 0.75. "
        "Don't wait for the other fetches: cancel them."
    )


async def test_fetch_all_or_none_raises_every_other_error_even_with_a_not_found(
    looptime, deadline
) -> None:
    # At 1.25 seconds three fetches fail at the same moment: 2 (NotFound), 5 and 9.
    service = FakeService({i: Plan(3.5) for i in range(1, 12)})
    service.plans[2] = Plan(1.25, NotFound("no item 2"))
    service.plans[5] = Plan(1.25, ConnectionError("connection reset"))
    service.plans[9] = Plan(1.25, ValueError("item 9 is malformed"))
    connection_errors: list[BaseException] = []
    value_errors: list[BaseException] = []
    not_found_raised = False
    result: object = "nothing"
    try:
        async with deadline(60, "fetch_all_or_none(fetch, range(1, 12))"):
            result = await fetch_all_or_none(service.fetch, range(1, 12))
    except* ConnectionError as group:  # alone, or inside an ExceptionGroup
        connection_errors.extend(group.exceptions)
    except* ValueError as group:
        value_errors.extend(group.exceptions)
    except* NotFound:  # raising it along with the others is fine
        not_found_raised = True
    running = service.still_running()
    if not_found_raised and not connection_errors and not value_errors:
        pytest.fail(
            "fetch_all_or_none raised only the NotFound of fetch(2); the ConnectionError of "
            "fetch(5) and the ValueError of fetch(9), which failed at the same moment, were "
            "lost. Every error other than NotFound must reach the caller."
        )
    if not connection_errors and not value_errors:
        pytest.fail(
            "fetch(2) raised NotFound, but fetch(5) raised ConnectionError and fetch(9) "
            "ValueError at the same moment, and fetch_all_or_none returned "
            f"{describe(result)}. Only a NotFound may become None; other errors must be "
            "raised. `except* NotFound` handles just the NotFound part of the group and lets "
            "the rest go on up."
        )
    assert connection_errors and value_errors, (
        "fetch(5) raised ConnectionError and fetch(9) raised ValueError at the same moment, "
        f"but fetch_all_or_none raised only {(connection_errors or value_errors)[0]!r}. Every "
        "error other than NotFound must reach the caller: several of them together in an "
        "ExceptionGroup, as asyncio.TaskGroup raises them."
    )
    assert running == [], (
        f"fetch_all_or_none raised while the fetches of ids {running} were still running."
    )
    assert looptime == 1.25, (
        f"fetch_all_or_none raised at {float(looptime)} seconds; the fetches failed at 1.25."
    )


async def test_fetch_all_or_none_cancelled_by_its_caller_cancels_every_fetch(
    looptime, deadline
) -> None:
    service = FakeService({i: Plan(0.25 * i) for i in range(1, 31)})
    bystander = await start_bystander()
    task, snapshot = await run_and_cancel(
        fetch_all_or_none(service.fetch, list(range(1, 31))),
        service,
        2.125,
        "fetch_all_or_none",
        deadline,
    )
    check_ended_cancelled(task, "fetch_all_or_none")
    assert snapshot == [], (
        f"fetch_all_or_none ended while the fetches of ids {snapshot} were still running or "
        "still cleaning up. When it is cancelled, it must cancel every fetch and wait until "
        "they have stopped."
    )
    assert sorted(service.cleaned_up) == list(range(9, 31)), (
        f"Cancelled at 2.125 seconds, fetch_all_or_none let ids {sorted(service.finished)} "
        f"finish and cancelled {sorted(service.cancelled)}; expected 1 to 8 finished and 9 "
        "to 30 cancelled, at once."
    )
    assert looptime == 2.125, (
        f"fetch_all_or_none ended {float(looptime)} seconds in; it was cancelled at 2.125."
    )
    await stop_bystander(bystander, "fetch_all_or_none")
