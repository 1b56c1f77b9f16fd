"""Mutant: place catches its caller's CancelledError and returns an empty receipt."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Connection(Protocol):
    async def fetch(self, url: str) -> bytes: ...


class Pool(Protocol):
    async def acquire(self) -> Connection: ...

    async def release(self, conn: Connection) -> None: ...


async def fetch_with_retries(fetch, url, *, attempt_timeout, attempts):
    for _ in range(attempts):
        try:
            async with asyncio.timeout(attempt_timeout):
                return await fetch(url)
        except TimeoutError:
            continue
    raise TimeoutError(url)


async def download(pool, url, *, time_limit):
    async with asyncio.timeout(time_limit):
        conn = await pool.acquire()
        try:
            return await conn.fetch(url)
        finally:
            await pool.release(conn)


class OrderService:
    def __init__(self, save):
        self._save = save
        self._unwaited = []

    async def place(self, order, *, time_limit):
        task = asyncio.create_task(self._save(order))
        try:
            async with asyncio.timeout(time_limit):
                return await asyncio.shield(task)
        except asyncio.CancelledError:
            self._unwaited.append(task)
            return ""
        except BaseException:
            if not task.done():
                self._unwaited.append(task)
            raise

    async def drain(self):
        tasks, self._unwaited = self._unwaited, []
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
