"""Right answer: an asyncio.Condition per account used as its lock."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._conditions: defaultdict[str, asyncio.Condition] = defaultdict(asyncio.Condition)

    async def deposit(self, account: str, amount: int) -> int:
        async with self._conditions[account]:
            new = await self._store.get(account) + amount
            await self._store.set(account, new)
        return new

    async def withdraw(self, account: str, amount: int) -> int:
        async with self._conditions[account]:
            old = await self._store.get(account)
            if old < amount:
                raise InsufficientFunds(account)
            await self._store.set(account, old - amount)
        return old - amount
