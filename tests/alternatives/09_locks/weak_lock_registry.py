"""Right answer: locks in a WeakValueDictionary, dropped once nobody uses them."""

from __future__ import annotations

import asyncio
import weakref
from typing import Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock_for(self, account: str) -> asyncio.Lock:
        lock = self._locks.get(account)
        if lock is None:
            lock = self._locks[account] = asyncio.Lock()
        return lock

    async def deposit(self, account: str, amount: int) -> int:
        async with self._lock_for(account):
            balance = await self._store.get(account) + amount
            await self._store.set(account, balance)
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        async with self._lock_for(account):
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(account)
            balance -= amount
            await self._store.set(account, balance)
        return balance
