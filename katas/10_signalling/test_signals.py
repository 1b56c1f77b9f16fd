"""Kata 10 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import collections.abc
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import signals
from signals import Crew, run_crew

WORK = 0.75  # seconds for one piece of work

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]


def now() -> float:
    """The event loop's clock, rounded to the microsecond like the loop's virtual time."""
    return round(asyncio.get_running_loop().time(), 6)


# --- waiting must cost nothing: no busy loops, no polling ----------------------------------

SAME_TIME_LIMIT = 200  # resumes of one task in a row without time passing: a busy loop
WAKEUP_LIMIT = 600  # wake-ups after time passed, all learner tasks of a test together: polling

_LEARNER_FILE = Path(signals.__file__).resolve()


class BusyWaiting(BaseException):
    """Thrown into learner code that busy-waits or polls (a BaseException, so that
    `except Exception:` inside the loop does not hide it)."""


class Guard:
    """What the learner tasks of one test did: wake-ups so far, and what was caught."""

    def __init__(self) -> None:
        self.wakeups = 0
        self.caught: list[str] = []


class Watched(collections.abc.Coroutine):  # type: ignore[type-arg]
    """Wraps a coroutine of the learner's file and counts how often its task resumes."""

    def __init__(self, coro: Coroutine[Any, Any, Any], guard: Guard) -> None:
        self._coro = coro
        self._guard = guard
        self.resumes = 0
        self._same_time = 0
        self._last_time: float | None = None
        self.__name__ = self.__qualname__ = getattr(coro, "__qualname__", "coroutine")

    def _why(self) -> str | None:
        self.resumes += 1
        time = asyncio.get_running_loop().time()
        if time == self._last_time:
            self._same_time += 1
        else:
            self._same_time = 0
            self._guard.wakeups += 1
        self._last_time = time
        what = f"{self.__qualname__}(...)"
        if self._same_time >= SAME_TIME_LIMIT:
            return (
                f"{what} ran {SAME_TIME_LIMIT} times in a row without any time passing: it is "
                "busy-waiting, in a loop around `await asyncio.sleep(0)` that checks a flag. "
                "That burns the CPU and keeps everything else from getting on. Wait with "
                "`await event.wait()` (or a Condition's `wait_for`): it sleeps until the "
                "signal comes."
            )
        if self._guard.wakeups >= WAKEUP_LIMIT:
            return (
                f"Your tasks woke up {self._guard.wakeups} times in one test ({what} "
                f"{self.resumes} times): they are polling, checking a flag in a loop with "
                "asyncio.sleep. That reacts late and wakes up for nothing. Wait with `await "
                "event.wait()` (or a Condition's `wait_for`): it sleeps until the signal "
                "comes, and wakes at that very moment."
            )
        return None

    def send(self, value: Any) -> Any:
        why = self._why()
        if why is not None:
            self._guard.caught.append(why)
            return self._coro.throw(BusyWaiting(why))
        return self._coro.send(value)

    def throw(self, *args: Any) -> Any:
        return self._coro.throw(*args)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self._coro.__await__()

    def __getattr__(self, name: str) -> Any:  # cr_frame, cr_code, ... for repr and stacks
        return getattr(self._coro, name)


def _is_learner_code(coro: object) -> bool:
    code = getattr(coro, "cr_code", None)
    return code is not None and Path(code.co_filename).resolve() == _LEARNER_FILE


@pytest.fixture(autouse=True)
async def _no_busy_waiting() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    guard = Guard()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        if _is_learner_code(coro):
            coro = Watched(coro, guard)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    yield
    loop.set_task_factory(previous)
    assert not guard.caught, guard.caught[0]


def resumes(task: asyncio.Task[Any]) -> int:
    coro = task.get_coro()
    return coro.resumes if isinstance(coro, Watched) else 0


# --- fakes -------------------------------------------------------------------------------------


class WorkError(Exception):
    """What the fake work raises for a worker told to fail."""


class PrepareError(Exception):
    """What the fake prepare raises for a worker told to fail."""


class Job:
    """The fake work(name): each piece takes 0.75 s. It writes down when pieces started and
    finished, and which were cancelled. fail_on={name: n} makes the n-th piece of name raise."""

    def __init__(self, fail_on: dict[str, int] | None = None) -> None:
        self.fail_on = fail_on or {}
        self.started: list[tuple[str, float]] = []
        self.finished: list[tuple[str, float]] = []
        self.cancelled: list[str] = []

    async def __call__(self, name: str) -> None:
        self.started.append((name, now()))
        try:
            await asyncio.sleep(WORK)
        except asyncio.CancelledError:
            for _ in range(3):  # cleaning up takes a few turns of the loop
                await asyncio.sleep(0)
            self.cancelled.append(name)
            raise
        if self.fail_on.get(name) == len(self.starts(name)):
            raise WorkError(f"{name} failed")
        self.finished.append((name, now()))

    def starts(self, name: str) -> list[float]:
        return [time for who, time in self.started if who == name]

    def first_starts(self) -> dict[str, float]:
        first: dict[str, float] = {}
        for who, time in self.started:
            first.setdefault(who, time)
        return first


class Preparation:
    """The fake prepare(name): takes delays[name] seconds; raises for names in `failing`."""

    def __init__(self, delays: dict[str, float], failing: frozenset[str] = frozenset()) -> None:
        self.delays = delays
        self.failing = failing
        self.calls: list[str] = []
        self.cancelled: list[str] = []

    async def __call__(self, name: str) -> None:
        if name not in self.delays:
            pytest.fail(f"prepare was called with {name!r}, which is not one of the names.")
        self.calls.append(name)
        try:
            await asyncio.sleep(self.delays[name])
        except asyncio.CancelledError:
            for _ in range(3):
                await asyncio.sleep(0)
            self.cancelled.append(name)
            raise
        if name in self.failing:
            raise PrepareError(f"{name} could not get ready")


class Ticker:
    """An unrelated task that ticks every 0.5 s, to see the loop stays free for others."""

    def __init__(self) -> None:
        self.ticks = 0
        self.started = now()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.ticks += 1

    async def stop(self) -> None:
        assert not self.task.done(), (
            "An unrelated task on the event loop was stopped while your code ran. Only "
            "cancel the tasks you started yourself."
        )
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        expected = int((now() - self.started) / 0.5)
        assert self.ticks == expected, (
            f"An unrelated task that ticks every 0.5 s ticked {self.ticks} times instead of "
            f"{expected}: the event loop was not free to run it."
        )


class Started:
    """A learner coroutine running as a task, and the loop time when it ended."""

    def __init__(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.task = asyncio.create_task(coro)
        self.ended_at: float | None = None
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[Any]) -> None:
        self.ended_at = now()

    def still_running(self, what: str, because: str) -> None:
        """Fail if the task already ended (raising its error, if it had one)."""
        if self.task.done():
            if not self.task.cancelled() and self.task.exception() is not None:
                raise_explained(self.task.exception())
            pytest.fail(
                f"{what} ended at {self.ended_at} s, but {because}. A worker should wait "
                "(`await event.wait()`) until go or stop comes to its own crew. Events shared "
                "at module level or on the class still carry the signals of an earlier crew.",
                pytrace=False,
            )

    async def result(self, deadline: Deadline, what: str, why: str = "") -> Any:
        try:
            try:
                async with deadline(60, what):
                    result = await self.task
            except AssertionError as error:
                if not why or not str(error).startswith(what):
                    raise
                pytest.fail(f"{what} never finished. {why}", pytrace=False)
            except RuntimeError as error:
                raise_explained(error)
        except* BusyWaiting as group:  # on its own, or inside a TaskGroup's ExceptionGroup
            pytest.fail(str(leaves(group)[0]), pytrace=False)
        except* RuntimeError as group:
            for error in leaves(group):
                if "bound to a different event loop" in str(error):
                    raise_explained(error)
            raise
        if self.ended_at is None:  # its done-callback is still queued: let it run
            await asyncio.sleep(0)
        return result


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside a (nested) exception group, or the error itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def raise_explained(error: BaseException | None) -> None:
    """Raise `error`, or a plainer failure for busy-waiting or an Event shared between loops."""
    if isinstance(error, BusyWaiting):
        pytest.fail(str(error), pytrace=False)
    if isinstance(error, RuntimeError) and "bound to a different event loop" in str(error):
        pytest.fail(
            f"{error}. That asyncio object was created once and used by an earlier test's "
            "event loop too: it is shared at module level or on the class. Create the events "
            "in Crew.__init__, and a new Crew in every call of run_crew, so nothing is shared.",
            pytrace=False,
        )
    if error is not None:
        raise error


async def sleep_until(moment: float) -> None:
    await asyncio.sleep(moment - asyncio.get_running_loop().time())


def join(crew: Crew, names: list[str] | tuple[str, ...], job: Job) -> dict[str, Started]:
    return {name: Started(crew.worker(name, job)) for name in names}


# --- Crew ------------------------------------------------------------------------------------


async def test_worker_waits_for_go_then_works_until_stop(deadline) -> None:
    crew, job, ticker = Crew(), Job(), Ticker()
    worker = Started(crew.worker("ann", job))
    await sleep_until(2.3719)
    worker.still_running("worker('ann', work)", "nobody had said go or stop yet")
    assert job.started == [], (
        f"The worker started working at {job.starts('ann')} s, before go. It should wait "
        "for the go signal: `await event.wait()`."
    )
    crew.go()  # at 2.3719 s
    await sleep_until(4.1)
    crew.stop()  # the worker is in the middle of its third piece (3.8719 to 4.6219)
    done = await worker.result(
        deadline,
        "worker('ann', work) after stop",
        "Once stop() is called, a worker should finish the piece it is doing and return.",
    )
    starts = job.starts("ann")
    assert starts[:1] == [2.3719], (
        f"go() was called at 2.3719 s, but the first piece of work started at "
        f"{starts[0] if starts else 'no time at all'} s. The worker should start the moment go "
        "comes: a loop that checks a flag every so often starts late. `await event.wait()` "
        "wakes up at once."
    )
    assert starts == [2.3719, 3.1219, 3.8719], (
        f"The pieces of work started at {starts} s; each takes 0.75 s, so they should start "
        "at 2.3719, 3.1219 and 3.8719 s, one right after the other until stop (at 4.1 s)."
    )
    assert worker.ended_at == 4.6219, (
        f"The worker returned at {worker.ended_at} s. stop() came at 4.1 s, during the piece "
        "that ends at 4.6219 s: finish that piece, then return, without starting another."
    )
    assert done == 3, f"The worker did 3 pieces of work, but returned {done!r}."
    await ticker.stop()


async def test_one_go_starts_every_waiting_worker(deadline) -> None:
    crew, job = Crew(), Job()
    names = [f"w{i:02}" for i in range(40)]
    workers = {}
    for wave in range(4):  # they join ten at a time, at 0, 0.625, 1.25 and 1.875 s
        for name in names[wave * 10 : wave * 10 + 10]:
            workers[name] = Started(crew.worker(name, job))
        await asyncio.sleep(0.625)
    await sleep_until(3.3301)
    for name in names:
        workers[name].still_running(f"worker({name!r}, work)", "go had not come yet")
    crew.go()  # one go for all 40
    await sleep_until(3.5)
    first = job.first_starts()
    late = {name: time for name, time in first.items() if time != 3.3301}
    missing = [name for name in names if name not in first]
    assert not missing and not late, (
        "go() was called once, at 3.3301 s, and every one of the 40 waiting workers should "
        "have started at that moment. "
        + (f"{len(missing)} never started ({', '.join(missing[:4])}, ...). " if missing else "")
        + (f"{len(late)} started later: {dict(list(late.items())[:3])} ... " if late else "")
        + "One shared asyncio.Event: one set() wakes every task waiting on it, at once."
    )
    crew.stop()
    counts = {}
    for name in names:
        counts[name] = await workers[name].result(deadline, f"worker({name!r}, work)")
    assert set(counts.values()) == {1}, (
        f"Each worker did one piece of work (3.3301 to 4.0801 s; stop came at 3.5 s), but they "
        f"returned {sorted(set(counts.values()))}."
    )


async def test_a_worker_that_joins_after_go_starts_at_once(deadline) -> None:
    crew, job = Crew(), Job()
    crew.go()  # before anybody has joined
    await sleep_until(2.3719)
    early = Started(crew.worker("early", job))
    await sleep_until(2.9)
    late = Started(crew.worker("late", job))
    await sleep_until(3.0)
    crew.stop()
    keep_it_set = (
        "An Event stays set until clear(): don't clear it (not right after set(), not when a "
        "worker wakes up), so that latecomers go straight through."
    )
    for name, worker in (("early", early), ("late", late)):
        await worker.result(
            deadline,
            f"worker({name!r}, work), which joined after go",
            f"go() had already been called, so it should have started at once. {keep_it_set}",
        )
    first = job.first_starts()
    assert first == {"early": 2.3719, "late": 2.9}, (
        f"go() came at 0 s; a worker joined at 2.3719 s and another at 2.9 s, and each should "
        f"have started working the moment it joined. They started at {first or 'no time'}. "
        + keep_it_set
    )
    assert (early.task.result(), late.task.result()) == (1, 1), (
        "Each worker did one piece of work before stop finished it off, so each should "
        f"return 1; they returned {early.task.result()!r} and {late.task.result()!r}."
    )


async def test_stop_sends_home_workers_still_waiting_for_go(deadline) -> None:
    crew, job = Crew(), Job()
    workers = join(crew, ("ann", "bob", "cy"), job)
    await sleep_until(3.3)
    crew.stop()  # go never came
    why = (
        "stop() came while it was still waiting for go. stop() must wake it too, for "
        "example by setting the go event as well, so it can see stop and return 0."
    )
    for name, worker in workers.items():
        count = await worker.result(deadline, f"worker({name!r}, work)", why)
        assert count == 0, f"worker({name!r}, work) never worked, but returned {count!r}."
        assert worker.ended_at == 3.3, (
            f"worker({name!r}, work) returned at {worker.ended_at} s; stop() came at 3.3 s "
            "and it should return at that moment."
        )
    await sleep_until(4.0)
    after = Started(crew.worker("dee", job))
    await after.result(deadline, "worker('dee', work), which joined after stop", why)
    crew.go()  # go after stop: stop still wins
    again = Started(crew.worker("eve", job))
    count = await again.result(deadline, "worker('eve', work), which joined after stop", why)
    assert job.started == [], (
        f"Work was started after stop: {job.started}. A worker that joins after stop (even "
        "if go came too) should return 0 at once, without working."
    )
    assert (after.task.result(), count, after.ended_at, again.ended_at) == (0, 0, 4.0, 4.0), (
        "Workers that joined after stop should return 0 at once; they returned "
        f"{after.task.result()!r} and {count!r} at {after.ended_at} s and {again.ended_at} s "
        "(they joined at 4.0 s)."
    )


async def test_worker_lets_an_error_from_work_out(deadline) -> None:
    crew, job = Crew(), Job(fail_on={"ann": 2})
    worker = Started(crew.worker("ann", job))
    crew.go()
    errors: list[WorkError] = []
    try:
        await worker.result(deadline, "worker('ann', work) whose second piece of work fails")
    except WorkError as error:
        errors.append(error)
    assert errors, (
        f"work('ann') raised WorkError on its second piece, but worker returned "
        f"{worker.task.result()!r}. Let the error out of worker: don't catch it."
    )
    assert worker.ended_at == 2 * WORK and len(job.started) == 2, (
        f"The second piece failed at {2 * WORK} s, but worker ended at {worker.ended_at} s "
        f"after {len(job.started)} pieces. Stop at the first error."
    )


async def test_wait_ready_returns_as_soon_as_enough_workers_have_joined(deadline) -> None:
    crew, job = Crew(), Job()
    for_two, for_three = Started(crew.wait_ready(2)), Started(crew.wait_ready(3))
    joins = {"ann": 0.5, "bob": 1.25, "cy": 2.3719}
    workers = {}
    for name, moment in joins.items():
        await sleep_until(moment)
        workers[name] = Started(crew.worker(name, job))
    await sleep_until(2.5)
    why = "Each worker should count itself as joined at once, before it waits for go."
    await for_two.result(deadline, "wait_ready(2)", why)
    await for_three.result(deadline, "wait_ready(3)", why)
    assert (for_two.ended_at, for_three.ended_at) == (1.25, 2.3719), (
        f"Workers joined at 0.5, 1.25 and 2.3719 s. wait_ready(2) returned at "
        f"{for_two.ended_at} s and wait_ready(3) at {for_three.ended_at} s; expected 1.25 and "
        "2.3719 s, the moment the count was reached. A loop that checks the count every so "
        "often is late: wait on an asyncio.Condition (`wait_for`) that the workers notify."
    )
    for count in (3, 1, 0):
        ready = Started(crew.wait_ready(count))
        await ready.result(deadline, f"wait_ready({count}) when 3 workers had joined")
        assert ready.ended_at == 2.5, (
            f"wait_ready({count}) was called at 2.5 s, when 3 workers had already joined; it "
            f"should return at once, but returned at {ready.ended_at} s."
        )
    more = Started(crew.wait_ready(4))
    await asyncio.sleep(1)
    more.still_running("wait_ready(4)", "only 3 workers had joined")
    crew.stop()
    for name, worker in workers.items():
        await worker.result(deadline, f"worker({name!r}, work)")
    await sleep_until(4.0)
    fourth = Started(crew.worker("dee", job))
    await more.result(deadline, "wait_ready(4)", why)
    assert more.ended_at == 4.0, (
        f"wait_ready(4) returned at {more.ended_at} s; the 4th worker joined at 4.0 s."
    )
    assert job.started == [], f"Nobody said go, but work was started: {job.started}."
    await fourth.result(deadline, "worker('dee', work)")


async def test_waiting_costs_nothing(deadline) -> None:
    crew, job = Crew(), Job()
    workers = join(crew, [f"w{i}" for i in range(5)], job)
    ready = Started(crew.wait_ready(6))
    await asyncio.sleep(1)  # everyone is waiting now
    before = {name: resumes(worker.task) for name, worker in workers.items()}
    before_ready = resumes(ready.task)
    await asyncio.sleep(600)  # ten quiet minutes
    for name, worker in workers.items():
        worker.still_running(f"worker({name!r}, work)", "go had not come yet")
        woke = resumes(worker.task) - before[name]
        assert woke == 0, (
            f"worker({name!r}, work) woke up {woke} times in 10 minutes of waiting for go. A "
            "waiting coroutine should sleep until its signal: `await event.wait()`, not a "
            "loop that checks a flag and sleeps."
        )
    ready.still_running("wait_ready(6)", "only 5 workers had joined")
    woke = resumes(ready.task) - before_ready
    assert woke == 0, (
        f"wait_ready(6) woke up {woke} times in 10 minutes while nobody joined. It should "
        "sleep until a worker joins: an asyncio.Condition's `wait_for`, notified by the "
        "workers, not a loop that checks the count and sleeps."
    )
    last = Started(crew.worker("w5", job))
    await ready.result(deadline, "wait_ready(6)")
    crew.go()
    await asyncio.sleep(0.1)
    crew.stop()
    for worker in [*workers.values(), last]:
        await worker.result(deadline, "a worker after stop")
    assert set(job.first_starts().values()) == {601.0}, (
        f"go came at 601.0 s but the workers started at {sorted(set(job.first_starts().values()))}."
    )


async def test_each_crew_has_its_own_signals(deadline) -> None:
    first, second, job = Crew(), Crew(), Job()
    a = Started(first.worker("a", job))
    b = Started(second.worker("b", job))
    second_ready = Started(second.wait_ready(2))
    await sleep_until(1.0)
    first.go()
    await sleep_until(2.0)
    first.stop()
    await a.result(deadline, "worker('a', work) of the first crew")
    b.still_running("worker('b', work) of the second crew", "only the first crew got go and stop")
    second_ready.still_running(
        "second_crew.wait_ready(2)", "only one worker had joined the second crew"
    )
    assert job.starts("b") == [], (
        f"go() on one crew started a worker of another crew (at {job.starts('b')} s). Each "
        "Crew needs its own events, created in __init__, not shared at module or class level."
    )
    await sleep_until(2.5)
    second.go()
    await sleep_until(2.6)
    second.stop()
    count = await b.result(deadline, "worker('b', work) of the second crew")
    assert job.starts("a") == [1.0, 1.75] and job.starts("b") == [2.5] and count == 1, (
        f"The first crew's worker worked at {job.starts('a')} s and the second's at "
        f"{job.starts('b')} s; expected [1.0, 1.75] (go at 1.0, stop at 2.0) and [2.5] (go at "
        "2.5, stop at 2.6)."
    )
    second_ready.task.cancel()
    await asyncio.gather(second_ready.task, return_exceptions=True)


# --- run_crew --------------------------------------------------------------------------------


async def test_run_crew_starts_everyone_together_once_all_are_ready(deadline) -> None:
    names = ("ann", "bob", "cy")
    prepare = Preparation({"ann": 0.5, "bob": 1.25, "cy": 2.3719})
    job, ticker = Job(), Ticker()
    run = Started(run_crew(names, prepare, job, 2.0))
    result = await run.result(
        deadline,
        "run_crew(('ann', 'bob', 'cy'), prepare, work, 2.0)",
        "Did it wait for the workers before saying go? Await them only after go and stop.",
    )
    assert sorted(prepare.calls) == sorted(names), (
        f"prepare was called for {prepare.calls}; expected each of {list(names)} once."
    )
    first = job.first_starts()
    assert first == dict.fromkeys(names, 2.3719), (
        f"The workers finished preparing at 0.5, 1.25 and 2.3719 s, and started working at "
        f"{first}. They should all start together at 2.3719 s, the moment the last one is "
        "ready: wait_ready(len(names)), then go()."
    )
    assert result == dict.fromkeys(names, 3), (
        f"run_crew returned {result!r}; each worker started at 2.3719 s and did 3 pieces of "
        "0.75 s before stop came at 4.3719 s (2.0 s after go), so {'ann': 3, 'bob': 3, "
        "'cy': 3}."
    )
    assert run.ended_at == 4.6219, (
        f"run_crew returned at {run.ended_at} s. Go came at 2.3719 s, stop 2.0 s later at "
        "4.3719 s, and the pieces of work then running end at 4.6219 s: return when every "
        "worker has finished."
    )
    await ticker.stop()


async def test_run_crew_twice_with_many_workers(deadline) -> None:
    for run_number, names, seconds in (
        (1, [f"p{i:02}" for i in range(30)], 1.3),
        (2, tuple(f"q{i:02}" for i in range(12)), 0.5),
    ):
        delays = {name: 0.1 * (i % 7) + 0.05 for i, name in enumerate(names)}
        copy = list(names)
        prepare, job = Preparation(delays), Job()
        start = now()
        ready_at = round(start + max(delays.values()), 6)
        pieces = int(seconds // WORK) + 1
        run = Started(run_crew(names, prepare, job, seconds))
        result = await run.result(deadline, f"run_crew of {len(names)} workers (run {run_number})")
        assert list(names) == copy, "run_crew changed the list of names it was given."
        first = job.first_starts()
        assert set(first.values()) == {ready_at} and len(first) == len(names), (
            f"In run {run_number} of run_crew, the {len(names)} workers were all ready at "
            f"{ready_at} s, but they started working at {sorted(set(first.values()))} s "
            f"({len(first)} of them started). They should all start together the moment the "
            "last one is ready. "
            + (
                "Is the crew (or its events) shared between calls? Every call needs a new "
                "Crew, with its own events."
                if run_number == 2
                else ""
            )
        )
        assert result == dict.fromkeys(names, pieces), (
            f"In run {run_number}, run_crew returned {result!r}; with stop {seconds} s after go "
            f"and 0.75 s per piece of work, every worker does {pieces}."
        )
        assert run.ended_at == round(ready_at + pieces * WORK, 6), (
            f"Run {run_number} of run_crew returned at {run.ended_at} s; expected "
            f"{round(ready_at + pieces * WORK, 6)} s, when the last pieces of work ended."
        )


async def test_run_crew_raises_when_a_worker_fails_and_cancels_the_rest(deadline) -> None:
    ticker = Ticker()
    for where in ("prepare", "work"):
        start = now()
        delays = {"ann": 0.5, "bob": 1.25, "cy": 2.3719}
        prepare = Preparation(delays, failing=frozenset({"bob"} if where == "prepare" else ()))
        job = Job(fail_on={"bob": 2} if where == "work" else None)
        error_type = PrepareError if where == "prepare" else WorkError
        fails_at = round(start + (1.25 if where == "prepare" else 2.3719 + 2 * WORK), 6)
        run = Started(run_crew(("ann", "bob", "cy"), prepare, job, 10.0))
        errors: list[BaseException] = []
        try:
            await run.result(
                deadline,
                f"run_crew, where {where}('bob') fails",
                f"When {where}('bob') fails, cancel the other workers (a TaskGroup does) and "
                "let the error out; don't keep waiting for everyone to be ready.",
            )
        except* error_type as group:
            errors.extend(group.exceptions)
        assert errors, (
            f"{where}('bob') raised {error_type.__name__}, but run_crew returned "
            f"{run.task.result()!r}. Let the error out of run_crew."
        )
        assert run.ended_at == fails_at, (
            f"{where}('bob') should have failed at {fails_at} s"
            + (
                f" (the end of bob's second piece of work, {2 * WORK} s after go)"
                if where == "work"
                else ""
            )
            + f", and run_crew should raise at that moment, cancelling the other workers at "
            f"once (a TaskGroup does that); it raised at {run.ended_at} s."
        )
        others = [
            task
            for task in asyncio.all_tasks()
            if task is not asyncio.current_task() and task is not ticker.task
        ]
        assert not others, (
            f"run_crew raised while {len(others)} of its tasks were still running. Cancel the "
            "other workers and wait until they have stopped before the error comes out."
        )
        if where == "prepare":
            assert prepare.cancelled == ["cy"] and job.started == [], (
                f"When prepare('bob') failed, cy was still preparing and ann waiting for go. "
                f"cy's prepare should be cancelled (it was: {prepare.cancelled == ['cy']}) "
                f"and nobody should start work (work started: {job.started})."
            )
        else:
            assert sorted(job.cancelled) == ["ann", "cy"], (
                f"When bob's work failed, ann's and cy's pieces of work were still running; "
                f"they should be cancelled, but the cancelled ones were {job.cancelled}."
            )
    await ticker.stop()


async def test_run_crew_cancelled_cancels_its_workers(deadline) -> None:
    ticker = Ticker()
    prepare = Preparation({"ann": 0.5, "bob": 1.25, "cy": 2.3719})
    job = Job()
    run = Started(run_crew(("ann", "bob", "cy"), prepare, job, 10.0))
    await sleep_until(3.0)  # everyone is in the middle of their first piece of work
    run.task.cancel()
    try:
        await run.result(deadline, "run_crew after it was cancelled")
    except asyncio.CancelledError:
        pass
    assert run.task.cancelled(), (
        "run_crew was cancelled, but it did not end cancelled"
        + (
            f": it returned {run.task.result()!r}"
            if run.task.exception() is None
            else f": it raised {run.task.exception()!r}"
        )
        + ". Let the CancelledError out after cancelling the workers."
    )
    others = [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and task is not ticker.task
    ]
    assert not others and sorted(job.cancelled) == ["ann", "bob", "cy"], (
        f"When run_crew was cancelled, {len(others)} of its tasks were still running, and the "
        f"work that got cancelled was {job.cancelled}; expected every worker's work cancelled "
        "and stopped before run_crew ends."
    )
    assert run.ended_at == 3.0, f"run_crew was cancelled at 3.0 s but ended at {run.ended_at} s."
    await ticker.stop()
