"""Mutant: a busy flag per account checked every 0.1 s instead of a lock: right sums, late."""

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
        self._busy: set[str] = set()

    async def _enter(self, account: str) -> None:
        while account in self._busy:
            await asyncio.sleep(0.1)
        self._busy.add(account)

    async def deposit(self, account: str, amount: int) -> int:
        await self._enter(account)
        try:
            balance = await self._store.get(account) + amount
            await self._store.set(account, balance)
        finally:
            self._busy.discard(account)
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        await self._enter(account)
        try:
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(account)
            balance -= amount
            await self._store.set(account, balance)
        finally:
            self._busy.discard(account)
        return balance
