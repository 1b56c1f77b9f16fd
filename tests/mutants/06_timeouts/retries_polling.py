"""Mutant: fetch_with_retries polls the attempt every 0.01 s instead of using a timeout."""

from __future__ import annotations

import asyncio
from typing import Protocol


class Connection(Protocol):
    async def fetch(self, url: str) -> bytes: ...


class Pool(Protocol):
    async def acquire(self) -> Connection: ...

    async def release(self, conn: Connection) -> None: ...


async def fetch_with_retries(fetch, url, *, attempt_timeout, attempts):
    loop = asyncio.get_running_loop()
    for _ in range(attempts):
        task = asyncio.create_task(fetch(url))
        started = loop.time()
        while not task.done() and loop.time() - started < attempt_timeout - 1e-9:
            await asyncio.sleep(0.01)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
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
