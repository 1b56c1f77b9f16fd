"""Right answer: an asyncio.Semaphore(1) per account and one shared _update helper."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._gates: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(1))

    async def _update(self, account: str, change: Callable[[int], int]) -> int:
        async with self._gates[account]:
            balance = change(await self._store.get(account))
            await self._store.set(account, balance)
            return balance

    async def deposit(self, account: str, amount: int) -> int:
        return await self._update(account, lambda balance: balance + amount)

    async def withdraw(self, account: str, amount: int) -> int:
        def take(balance: int) -> int:
            if balance < amount:
                raise InsufficientFunds(account)
            return balance - amount

        return await self._update(account, take)
