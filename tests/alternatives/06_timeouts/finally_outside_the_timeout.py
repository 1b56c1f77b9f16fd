"""Right answer: conn = None guard with try/finally outside the timeout, timeout_at deadlines,
and drain with asyncio.wait raising an ExceptionGroup.
"""

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
    attempt = 0
    while attempt < attempts:
        attempt += 1
        try:
            async with asyncio.timeout_at(loop.time() + attempt_timeout):
                return await fetch(url)
        except TimeoutError:
            if attempt == attempts:
                raise
    raise TimeoutError(url)


async def download(pool, url, *, time_limit):
    conn = None
    try:
        async with asyncio.timeout(time_limit):
            conn = await pool.acquire()
            return await conn.fetch(url)
    finally:
        if conn is not None:
            await pool.release(conn)


class OrderService:
    def __init__(self, save):
        self._save = save
        self._unwaited: set[asyncio.Task[str]] = set()

    async def place(self, order, *, time_limit):
        task = asyncio.create_task(self._save(order))
        waiting = True
        try:
            async with asyncio.timeout(time_limit):
                receipt = await asyncio.shield(task)
            waiting = False
            return receipt
        finally:
            if waiting and not task.done():
                self._unwaited.add(task)

    async def drain(self):
        if not self._unwaited:
            return
        tasks, self._unwaited = self._unwaited, set()
        await asyncio.wait(tasks)
        errors = [t.exception() for t in tasks if not t.cancelled() and t.exception()]
        if errors:
            raise ExceptionGroup("saves failed after their callers gave up", errors)
