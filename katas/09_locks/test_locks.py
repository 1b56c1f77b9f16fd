"""Kata 09 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

# --- threading.Lock must fail loudly here, not freeze the event loop -------------------

_real_thread_lock = threading.Lock
_thread_lock_waits: list[str] = []


class ThreadLockOnTheLoop(AssertionError):
    """Raised inside learner code that waits for a taken threading.Lock on the loop."""


def _on_the_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _LoopSafeThreadLock:
    """A threading.Lock that raises instead of blocking the event loop's thread forever."""

    def __init__(self) -> None:
        self._lock = _real_thread_lock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if blocking and self._lock.locked() and _on_the_loop_thread():
            _thread_lock_waits.append("threading.Lock")
            raise ThreadLockOnTheLoop(
                "Your code waited for a threading.Lock that another coroutine holds. Every "
                "coroutine runs on the event loop's one thread, so that wait blocks the thread "
                "for good: the coroutine holding the lock never runs again to release it, and "
                "the program freezes (here we stopped it). Use asyncio.Lock with `async with`: "
                "waiting for it lets the other coroutines run."
            )
        return self._lock.acquire(blocking, timeout)

    __enter__ = acquire

    def release(self) -> None:
        self._lock.release()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()


def _loop_safe_semaphore(real: type[threading.Semaphore]) -> type[threading.Semaphore]:
    class LoopSafeSemaphore(real):  # type: ignore[valid-type, misc]
        """A threading semaphore that raises instead of blocking the event loop forever."""

        def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
            if blocking and _on_the_loop_thread():
                if super().acquire(blocking=False):
                    return True
                _thread_lock_waits.append(real.__name__)
                raise ThreadLockOnTheLoop(
                    f"Your code waited for a threading.{real.__name__} that other coroutines "
                    "hold. Every coroutine runs on the event loop's one thread, so that wait "
                    "blocks the thread for good and the program freezes (here we stopped it). "
                    "Use asyncio.Lock with `async with`: waiting for it lets the other "
                    "coroutines run."
                )
            return super().acquire(blocking, timeout)

        __enter__ = acquire

    return LoopSafeSemaphore


_LOOP_SAFE = {
    "Lock": _LoopSafeThreadLock,
    "Semaphore": _loop_safe_semaphore(threading.Semaphore),
    "BoundedSemaphore": _loop_safe_semaphore(threading.BoundedSemaphore),
}
_REAL = {name: getattr(threading, name) for name in _LOOP_SAFE}

# `from threading import Lock` in the learner file gets the loop-safe one too.
for _name, _safe in _LOOP_SAFE.items():
    setattr(threading, _name, _safe)
try:
    from locks import Bank, InsufficientFunds
finally:
    for _name, _real in _REAL.items():
        setattr(threading, _name, _real)


@pytest.fixture(autouse=True)
def _thread_locks_fail_fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _thread_lock_waits.clear()
    for name, safe in _LOOP_SAFE.items():
        monkeypatch.setattr(threading, name, safe)
    yield
    waits, _thread_lock_waits[:] = list(_thread_lock_waits), []
    assert not waits, (
        "Your code waited for a threading.Lock on the event loop's thread, which freezes the "
        "whole program. Use asyncio.Lock with `async with` instead."
    )


# --- the slow store ------------------------------------------------------------------------

READ = 0.25  # seconds for one store.get
WRITE = 0.5  # seconds for one store.set
DEPOSIT = READ + WRITE  # one deposit, or one withdraw that goes through


class StoreError(Exception):
    """What the fake store raises for a read or write it was told to fail."""


class FakeStore:
    """A slow balance store: get takes 0.25 s, set takes 0.5 s (of virtual time).

    It writes down every read and write, and how many of its calls were running at the
    same moment: on one account, and across accounts. With `drawn` (the `timeline`
    fixture) the checker draws what ran when.
    """

    def __init__(self, balances: dict[str, int], drawn: Any = None) -> None:
        self.balances = dict(balances)
        self.drawn = drawn
        self.reads: list[str] = []
        self.writes: list[tuple[str, int]] = []
        self.fail_next_read: set[str] = set()
        self.fail_next_write: set[str] = set()
        self._busy: Counter[str] = Counter()
        self.peak_on_one_account = 0
        self.peak_accounts_at_once = 0

    def _drawing(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self.drawn.span(name) if self.drawn else contextlib.nullcontext()

    async def _take_time(self, account: str, seconds: float) -> None:
        self._busy[account] += 1
        self.peak_on_one_account = max(self.peak_on_one_account, self._busy[account])
        busy_accounts = sum(1 for count in self._busy.values() if count)
        self.peak_accounts_at_once = max(self.peak_accounts_at_once, busy_accounts)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            for _ in range(3):  # cleaning up takes a few turns of the loop
                await asyncio.sleep(0)
            raise
        finally:
            self._busy[account] -= 1

    async def get(self, account: str) -> int:
        self.reads.append(account)
        with self._drawing(f"get({account!r})"):
            await self._take_time(account, READ)
        if account in self.fail_next_read:
            self.fail_next_read.discard(account)
            raise StoreError(f"could not read {account}")
        return self.balances.get(account, 0)

    async def set(self, account: str, balance: int) -> None:
        with self._drawing(f"set({account!r}, {balance!r})"):
            await self._take_time(account, WRITE)
        if account in self.fail_next_write:
            self.fail_next_write.discard(account)
            raise StoreError(f"could not write {account}")
        self.balances[account] = balance
        self.writes.append((account, balance))


class Ticker:
    """An unrelated task that ticks every 1.5 seconds, to see the loop stays free."""

    def __init__(self) -> None:
        self.ticks = 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(1.5)
            self.ticks += 1

    async def stop(self, expected_ticks: int) -> None:
        assert not self.task.done(), (
            "An unrelated task on the event loop was stopped while your code ran. Your code "
            "should only touch what it started: don't cancel every task on the loop."
        )
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        assert self.ticks == expected_ticks, (
            f"An unrelated task that ticks every 1.5 s ticked {self.ticks} times instead of "
            f"{expected_ticks} while your code ran: the event loop was not free to run it."
        )


async def run_all(
    deadline: Callable[[float, str], AbstractAsyncContextManager[None]],
    what: str,
    calls: Iterable[Awaitable[int]],
    expected: type[BaseException] | tuple[type[BaseException], ...] = (),
) -> list[Any]:
    """Run the calls all at once; return their results (and `expected` errors) in order.

    Any other error is raised as it is.
    """
    async with deadline(60, what):
        results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, expected):
            raise_explained(result)
    return results


def succeeded(result: object) -> None:
    """Raise `result` if it is an error (one that gather returned in place of a value)."""
    if isinstance(result, BaseException):
        raise_explained(result)


def raise_explained(error: BaseException) -> None:
    """Raise `error`, or a plainer failure for an asyncio lock shared between event loops."""
    if isinstance(error, InsufficientFunds):
        pytest.fail(
            f"A withdraw raised InsufficientFunds({error}) although the account held enough "
            "money: refuse only when the balance is less than the amount (taking all of it is "
            "allowed).",
            pytrace=False,
        )
    if isinstance(error, RuntimeError) and "bound to a different event loop" in str(error):
        pytest.fail(
            f"{error}. That asyncio lock was created once and used by an earlier test's event "
            "loop too: it is shared at module level or on the class. Create the locks in "
            "Bank.__init__, so every Bank has its own.",
            pytrace=False,
        )
    raise error


@asynccontextmanager
async def must_finish(
    deadline: Callable[[float, str], AbstractAsyncContextManager[None]], what: str, why: str
) -> AsyncIterator[None]:
    """A deadline whose failure explains what most likely kept `what` waiting."""
    try:
        async with deadline(60, what):
            yield
    except AssertionError as error:
        if not str(error).startswith(what):
            raise
        pytest.fail(f"{what} never finished. {why}", pytrace=False)


def lost_updates_message(store: FakeStore, account: str, count: int, grew: int, should: int) -> str:
    """Explain a wrong final balance by what the store saw."""
    if store.peak_on_one_account > 1:
        how = (
            f"Up to {store.peak_on_one_account} store calls on {account!r} were running at "
            "the same moment: operations read the same old balance, and each one's write "
            "overwrote the others'."
        )
    else:
        how = (
            "Your operations took turns at the store, but not for the whole read-modify-write: "
            "one read the balance while another was between its read and its write."
        )
    return (
        f"After {count} operations on {account!r} started together, the balance changed by "
        f"{grew} instead of {should}: updates were lost. {how} Hold the account's "
        "asyncio.Lock from before the read until after the write (`async with lock:` around "
        "all of it)."
    )


# --- deposit -------------------------------------------------------------------------------


async def test_deposit_adds_to_the_balance_and_returns_it(looptime, deadline) -> None:
    store = FakeStore({"alice": 100})
    bank = Bank(store)
    async with deadline(60, "bank.deposit('alice', 25)"):
        balance = await bank.deposit("alice", 25)
    assert balance == 125, (
        f"deposit('alice', 25) on a balance of 100 returned {balance!r}; expected the new "
        "balance, 125."
    )
    assert store.balances["alice"] == 125, (
        f"After deposit('alice', 25) the store holds {store.balances['alice']!r} for alice; "
        "expected 125. Write the new balance back with `await store.set(account, balance)`."
    )
    assert looptime == DEPOSIT, (
        f"One deposit took {float(looptime)} seconds; one read (0.25 s) and one write (0.5 s) "
        f"take {DEPOSIT}. Read the balance once and write it once, with nothing else waiting."
    )
    async with deadline(60, "bank.deposit('carol', 7)"):
        balance = await bank.deposit("carol", 7)
    assert (balance, store.balances.get("carol")) == (7, 7), (
        f"deposit('carol', 7) on a new account (the store says 0) returned {balance!r} and "
        f"left {store.balances.get('carol')!r} in the store; expected 7 for both."
    )


async def test_deposit_many_at_once_loses_no_money(looptime, deadline) -> None:
    store = FakeStore({"alice": 1000})
    bank = Bank(store)
    amounts = tuple(range(1, 61))  # 60 deposits of 1, 2, ... 60
    expected = 1000 + sum(amounts)
    ticker = Ticker()

    async def in_two_waves() -> list[int]:
        first = [asyncio.ensure_future(bank.deposit("alice", a)) for a in amounts[:30]]
        await asyncio.sleep(1.1)  # the rest arrive while the first wave is queueing
        second = [asyncio.ensure_future(bank.deposit("alice", a)) for a in amounts[30:]]
        return await run_all(deadline, "60 deposits to 'alice'", [*first, *second])

    results = await in_two_waves()
    final = store.balances["alice"]
    assert final == expected, lost_updates_message(
        store, "alice", len(amounts), final - 1000, sum(amounts)
    )
    assert max(results) == expected and len(set(results)) == len(amounts), (
        f"The 60 deposits returned {sorted(results)!r}: each should return the balance just "
        f"after it was added, so all are different and the last is {expected}."
    )
    assert looptime == len(amounts) * DEPOSIT, (
        f"60 deposits to one account took {float(looptime)} seconds. One at a time, each "
        f"takes {DEPOSIT} s: {len(amounts) * DEPOSIT} s in all. "
        + (
            "Less than that means some ran at the same time on the same account."
            if looptime < len(amounts) * DEPOSIT
            else "More means time was lost between them: is something polling or sleeping "
            "instead of waiting on an asyncio.Lock?"
        )
    )
    await ticker.stop(expected_ticks=int(len(amounts) * DEPOSIT / 1.5))


async def test_different_accounts_do_not_wait_for_each_other(looptime, deadline) -> None:
    store = FakeStore({"alice": 0, "bob": 0})
    bank = Bank(store)
    one_account = 20 * DEPOSIT
    for what, method, amounts, balances in (
        ("deposits to", bank.deposit, (1, 10), {"alice": 20, "bob": 200}),
        ("withdrawals from", bank.withdraw, (1, 5), {"alice": 0, "bob": 100}),
    ):
        store.peak_accounts_at_once = 0
        start = float(looptime)
        calls = []
        for _ in range(20):  # 20 each, alice and bob taking turns
            calls += [method("alice", amounts[0]), method("bob", amounts[1])]
        await run_all(deadline, f"20 {what} each of 'alice' and 'bob' at once", calls)
        assert store.balances == balances, (
            f"After 20 {what} each of alice (of {amounts[0]}) and bob (of {amounts[1]}), the "
            f"store holds {store.balances!r}; expected {balances!r}. Did updates get lost, or "
            "end up on the wrong account?"
        )
        took = float(looptime) - start
        assert store.peak_accounts_at_once == 2 and took == one_account, (
            f"20 {what} alice and 20 {what} bob took {took} seconds; alice's and bob's "
            f"can run side by side, so they should take {one_account} s, as long as one "
            "account's. "
            + (
                f"They took turns: one lock for all the {what.split()[0]} of the bank makes "
                "every account wait for every other. Keep one asyncio.Lock per account."
                if store.peak_accounts_at_once == 1
                else "Only operations on the same account should wait for each other."
            )
        )


async def test_two_banks_do_not_wait_for_each_other(looptime, deadline) -> None:
    first_store, second_store = FakeStore({"alice": 0}), FakeStore({"alice": 0})
    first, second = Bank(first_store), Bank(second_store)
    calls = []
    for _ in range(20):
        calls += [first.deposit("alice", 1), second.deposit("alice", 2)]
    await run_all(deadline, "20 deposits each to 'alice' at two banks at once", calls)
    assert (first_store.balances["alice"], second_store.balances["alice"]) == (20, 40), (
        f"Two banks with their own stores each got 20 deposits to 'alice' (of 1 and of 2), "
        f"and their stores hold {first_store.balances['alice']} and "
        f"{second_store.balances['alice']}; expected 20 and 40."
    )
    assert looptime == 20 * DEPOSIT, (
        f"Two separate banks took {float(looptime)} seconds for 20 deposits each; they "
        f"share nothing, so they should run side by side and take {20 * DEPOSIT} s. Are the "
        "locks shared between banks (created at module level or on the class)? Give every "
        "Bank its own locks in __init__."
    )


# --- withdraw ------------------------------------------------------------------------------


async def test_withdraw_takes_money_out_only_if_there_is_enough(looptime, deadline) -> None:
    store = FakeStore({"alice": 100})
    bank = Bank(store)
    async with deadline(60, "bank.withdraw('alice', 30)"):
        balance = await bank.withdraw("alice", 30)
    assert (balance, store.balances["alice"]) == (70, 70), (
        f"withdraw('alice', 30) on a balance of 100 returned {balance!r} and left "
        f"{store.balances['alice']!r} in the store; expected 70 for both."
    )
    assert looptime == DEPOSIT, (
        f"One withdraw took {float(looptime)} seconds; one read and one write take {DEPOSIT}."
    )
    writes = len(store.writes)
    try:
        async with deadline(60, "bank.withdraw('alice', 80) with 70 in the account"):
            balance = await bank.withdraw("alice", 80)
    except InsufficientFunds:
        pass
    else:
        pytest.fail(
            f"withdraw('alice', 80) with only 70 in the account returned {balance!r}; it should "
            "raise InsufficientFunds and change nothing."
        )
    assert store.balances["alice"] == 70 and len(store.writes) == writes, (
        "A withdraw that raised InsufficientFunds wrote to the store; it should change nothing."
    )
    try:
        async with deadline(60, "bank.withdraw('alice', 70) with 70 in the account"):
            balance = await bank.withdraw("alice", 70)
    except InsufficientFunds:
        pytest.fail(
            "withdraw('alice', 70) with exactly 70 in the account raised InsufficientFunds; "
            "taking all of it is allowed. Refuse only when the balance is less than the amount."
        )
    assert (balance, store.balances["alice"]) == (0, 0), (
        f"withdraw('alice', 70) with exactly 70 in the account returned {balance!r}; taking "
        "all of it is allowed, so the balance should be 0."
    )
    with pytest.raises(InsufficientFunds):
        async with deadline(60, "bank.withdraw('dave', 1) from a new account"):
            await bank.withdraw("dave", 1)


async def test_withdraw_many_at_once_never_overdraws(looptime, deadline, timeline) -> None:
    store = FakeStore({"alice": 100}, drawn=timeline)
    bank = Bank(store)
    results = await run_all(
        deadline,
        "25 withdrawals of 10 from 'alice' (who has 100) at once",
        (bank.withdraw("alice", 10) for _ in range(25)),
        expected=InsufficientFunds,
    )
    went_through = sorted(r for r in results if not isinstance(r, InsufficientFunds))
    refused = len(results) - len(went_through)
    assert store.balances["alice"] >= 0 and len(store.writes) <= 10, (
        f"{len(store.writes)} withdrawals of 10 were written on a balance of 100, and the "
        f"store ended at {store.balances['alice']}. Several withdrawals checked the balance "
        "before any of them had written: check-then-act needs the check inside the lock too, "
        "between the read and the write, so each check sees the balance the one before left."
    )
    assert went_through == list(range(0, 100, 10)) and refused == 15, (
        f"25 withdrawals of 10 from a balance of 100 gave balances {went_through} and "
        f"{refused} InsufficientFunds; expected exactly 10 to go through (returning "
        "0, 10, ... 90 in some order) and 15 to be refused."
    )
    assert store.balances["alice"] == 0, (
        f"After 10 withdrawals of 10 from 100 the store holds {store.balances['alice']}, not 0."
    )
    expected_time = 10 * DEPOSIT + 15 * READ
    assert looptime == expected_time, (
        f"25 withdrawals took {float(looptime)} seconds; one at a time, 10 that go through "
        f"(read and write, {DEPOSIT} s each) and 15 refused (one read, {READ} s each) take "
        f"{expected_time} s."
    )


async def test_deposits_and_withdrawals_on_one_account_take_turns(looptime, deadline) -> None:
    store = FakeStore({"alice": 1000})
    bank = Bank(store)
    calls = []
    for _ in range(20):
        calls += [bank.deposit("alice", 7), bank.withdraw("alice", 11)]
    await run_all(deadline, "20 deposits and 20 withdrawals on 'alice' at once", calls)
    final = store.balances["alice"]
    assert final == 1000 + 20 * 7 - 20 * 11, lost_updates_message(
        store, "alice", 40, final - 1000, 20 * 7 - 20 * 11
    ) + (" deposit and withdraw must use the same lock for the same account.")
    assert looptime == 40 * DEPOSIT, (
        f"40 operations on one account took {float(looptime)} seconds; one at a time they "
        f"take {40 * DEPOSIT} s."
    )


# --- errors and cancellation never leave an account locked ---------------------------------


async def test_a_refused_withdraw_does_not_leave_the_account_locked(deadline) -> None:
    store = FakeStore({"alice": 50})
    bank = Bank(store)
    why = (
        "They waited behind a withdraw that raised InsufficientFunds, so the account's lock "
        "was never released. `async with lock:` releases it even when the block raises; "
        "`await lock.acquire()` ... `lock.release()` without try/finally does not."
    )
    calls = [bank.withdraw("alice", 80), bank.deposit("alice", 5), bank.deposit("alice", 10)]
    async with must_finish(deadline, "The two deposits started right after a withdraw", why):
        results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results[1:]:
        succeeded(result)
    refused = results[0]
    if not isinstance(refused, InsufficientFunds):
        succeeded(refused)
        pytest.fail(
            f"withdraw('alice', 80) with 50 in the account returned {refused!r}; it should "
            "raise InsufficientFunds."
        )
    assert store.balances["alice"] == 65, (
        f"After a refused withdraw and deposits of 5 and 10 on a balance of 50, the store "
        f"holds {store.balances['alice']}; expected 65."
    )
    async with must_finish(deadline, "A deposit after all that", why):
        balance = await bank.deposit("alice", 1)
    assert balance == 66, f"deposit('alice', 1) on 65 returned {balance!r}; expected 66."


async def test_a_store_error_comes_out_and_does_not_leave_the_account_locked(deadline) -> None:
    store = FakeStore({"alice": 10, "bob": 20})
    bank = Bank(store)
    why = (
        "An earlier operation on the same account failed with the store's error, and the "
        "account's lock was never released. `async with lock:` releases it however the block "
        "ends."
    )
    for account, method, failing in (
        ("alice", bank.deposit, store.fail_next_read),
        ("bob", bank.withdraw, store.fail_next_write),
    ):
        failing.add(account)
        step = "read" if failing is store.fail_next_read else "write"
        first, second = method(account, 5), bank.deposit(account, 100)
        async with must_finish(deadline, f"A deposit to {account!r} started right after", why):
            results = await asyncio.gather(first, second, return_exceptions=True)
        failed, after = results
        if not isinstance(failed, StoreError):
            succeeded(failed)
            pytest.fail(
                f"{method.__name__}({account!r}, 5) hid the store's error: the store failed "
                f"to {step} and raised StoreError, but it returned {failed!r}. Let the error "
                "reach the caller; don't catch it."
            )
        succeeded(after)
    assert store.balances == {"alice": 110, "bob": 120}, (
        f"After one failed operation and a deposit of 100 on each account, the store holds "
        f"{store.balances!r}; expected {{'alice': 110, 'bob': 120}}: a failed operation "
        "changes nothing."
    )


async def test_a_cancelled_deposit_does_not_leave_the_account_locked(
    looptime, deadline, timeline
) -> None:
    store = FakeStore({"alice": 0}, drawn=timeline)
    bank = Bank(store)
    reading = asyncio.create_task(bank.deposit("alice", 1))
    second = asyncio.create_task(bank.deposit("alice", 10))
    waiting = asyncio.create_task(bank.deposit("alice", 100))
    last = asyncio.create_task(bank.deposit("alice", 1000))
    await asyncio.sleep(0.1)  # the first deposit is reading; the others wait their turn
    reading.cancel()
    waiting.cancel()
    async with must_finish(
        deadline,
        "The deposits after a cancelled one",
        "The first deposit was cancelled while it held the account's lock, and the lock was "
        "never released. `async with lock:` releases it on cancellation too.",
    ):
        await asyncio.gather(reading, second, waiting, last, return_exceptions=True)
    for task in (second, last):
        if not task.cancelled():
            succeeded(task.exception())
    assert reading.cancelled() and waiting.cancelled(), (
        "A deposit was cancelled, but it did not end cancelled: it caught the CancelledError. "
        "Let cancellation through (`async with lock:` releases the lock and re-raises)."
    )
    assert store.balances["alice"] == 1010, (
        f"Two of four deposits were cancelled before writing; the other two added 10 and 1000, "
        f"but the store holds {store.balances['alice']}, not 1010."
    )
    assert looptime == 0.1 + 2 * DEPOSIT, (
        f"The two deposits left took until {float(looptime)} s; the lock was free at 0.1 s, "
        f"so they should be done at {0.1 + 2 * DEPOSIT} s. Waiting for the lock should hand "
        "it on at once: is something polling?"
    )
