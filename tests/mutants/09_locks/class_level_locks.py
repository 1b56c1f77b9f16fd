"""Mutant: keeps the per-account locks in a class attribute, shared by every Bank."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import ClassVar, Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    _locks: ClassVar[defaultdict[str, asyncio.Lock]] = defaultdict(asyncio.Lock)

    def __init__(self, store: Store) -> None:
        self._store = store

    async def deposit(self, account: str, amount: int) -> int:
        async with self._locks[account]:
            balance = await self._store.get(account) + amount
            await self._store.set(account, balance)
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        async with self._locks[account]:
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(account)
            balance -= amount
            await self._store.set(account, balance)
        return balance
