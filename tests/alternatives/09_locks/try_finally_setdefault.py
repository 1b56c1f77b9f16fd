"""Right answer: locks made with dict.setdefault, taken with acquire() and released in finally."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock_for(self, account: str) -> asyncio.Lock:
        return self._locks.setdefault(account, asyncio.Lock())

    async def deposit(self, account: str, amount: int) -> int:
        lock = self._lock_for(account)
        await lock.acquire()
        try:
            balance = await self._store.get(account)
            await self._store.set(account, balance + amount)
            return balance + amount
        finally:
            lock.release()

    async def withdraw(self, account: str, amount: int) -> int:
        lock = self._lock_for(account)
        await lock.acquire()
        try:
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(f"{account}: {balance} < {amount}")
            await self._store.set(account, balance - amount)
            return balance - amount
        finally:
            lock.release()
