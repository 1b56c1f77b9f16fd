"""Mutant: `from threading import Lock`: one thread lock for the bank, which freezes the loop."""

from __future__ import annotations

from threading import Lock
from typing import Protocol


class Store(Protocol):
    async def get(self, account: str) -> int: ...

    async def set(self, account: str, balance: int) -> None: ...


class InsufficientFunds(Exception):
    """Raised by withdraw when the account holds less than the amount asked for."""


class Bank:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = Lock()

    async def deposit(self, account: str, amount: int) -> int:
        with self._lock:
            balance = await self._store.get(account) + amount
            await self._store.set(account, balance)
        return balance

    async def withdraw(self, account: str, amount: int) -> int:
        with self._lock:
            balance = await self._store.get(account)
            if balance < amount:
                raise InsufficientFunds(account)
            balance -= amount
            await self._store.set(account, balance)
        return balance
