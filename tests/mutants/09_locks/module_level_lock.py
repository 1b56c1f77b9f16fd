"""Mutant: one asyncio.Lock at module level for every account of every Bank."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


_LOCK = asyncio.Lock()


class Bank:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def deposit(self, account: str, amount: int) -> int:
        async with _LOCK:
            balance = await self._store.get(account) + amount
            await self._store.set(account, balance)
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        async with _LOCK:
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(account)
            balance -= amount
            await self._store.set(account, balance)
        return balance
