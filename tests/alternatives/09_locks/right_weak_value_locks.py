"""Right answer: locks in a WeakValueDictionary, so unused accounts' locks are freed."""

from __future__ import annotations

import asyncio
import weakref
from typing import Protocol


class Store(Protocol):
    """Where the balances live: slow, so every call has to be awaited."""

    async def get(self, account: str) -> int:
        """The balance of `account` (0 for an account it has never seen)."""
        ...

    async def set(self, account: str, balance: int) -> None:
        """Write a new balance for `account`."""
        ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    """Deposits and withdrawals on accounts whose balances live in a slow `Store`.

    Operations on the same account happen one at a time, so no update is ever lost.
    Operations on different accounts don't wait for each other, and neither do two Banks.
    Each operation reads the balance once and writes it at most once. An operation that
    fails or is cancelled never leaves its account locked: the next one goes ahead.
    """

    def __init__(self, store: Store) -> None:
        """Remember the store this bank keeps its balances in."""
        self._store = store
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def deposit(self, account: str, amount: int) -> int:
        """Add `amount` to the balance of `account`; return the new balance."""
        lock = self._lock_for(account)
        async with lock:
            balance = await self._store.get(account) + amount
            await self._store.set(account, balance)
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        """Take `amount` out of `account`; return the new balance.

        If the balance is less than `amount`, raise InsufficientFunds and change nothing.
        """
        lock = self._lock_for(account)
        async with lock:
            balance = await self._store.get(account)
            if amount > balance:
                raise InsufficientFunds(f"{account} has {balance}, needs {amount}")
            balance = balance - amount
            await self._store.set(account, balance)
        return balance

    def _lock_for(self, account: str) -> asyncio.Lock:
        lock = self._locks.get(account)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[account] = lock
        return lock
