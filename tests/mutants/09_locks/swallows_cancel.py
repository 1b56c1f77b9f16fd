"""Mutant: catches CancelledError inside the lock and returns, so a cancelled deposit ends well."""

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
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def deposit(self, account: str, amount: int) -> int:
        async with self._locks[account]:
            try:
                balance = await self._store.get(account) + amount
                await self._store.set(account, balance)
            except asyncio.CancelledError:
                return -1
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        async with self._locks[account]:
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(account)
            balance -= amount
            await self._store.set(account, balance)
        return balance
