"""Right answer: an asynccontextmanager for the connection lease, a reschedule()d timeout per
attempt, and a dict of unwaited saves.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol


class Connection(Protocol):
    async def fetch(self, url: str) -> bytes: ...


class Pool(Protocol):
    async def acquire(self) -> Connection: ...

    async def release(self, conn: Connection) -> None: ...


async def fetch_with_retries(fetch, url, *, attempt_timeout, attempts):
    loop = asyncio.get_running_loop()
    for _ in range(attempts):
        try:
            async with asyncio.timeout(None) as limit:
                limit.reschedule(loop.time() + attempt_timeout)
                return await fetch(url)
        except TimeoutError:
            continue
    raise TimeoutError(url)


@contextlib.asynccontextmanager
async def lease(pool):
    conn = await pool.acquire()
    try:
        yield conn
    finally:
        await pool.release(conn)


async def download(pool, url, *, time_limit):
    async with asyncio.timeout(time_limit), lease(pool) as conn:
        return await conn.fetch(url)


class OrderService:
    def __init__(self, save):
        self._save = save
        self._unwaited: dict[str, list[asyncio.Task[str]]] = {}

    async def place(self, order, *, time_limit):
        task = asyncio.create_task(self._save(order))
        try:
            async with asyncio.timeout(time_limit):
                return await asyncio.shield(task)
        except (TimeoutError, asyncio.CancelledError):
            self._unwaited.setdefault(order, []).append(task)
            raise

    async def drain(self):
        tasks = [task for group in self._unwaited.values() for task in group]
        self._unwaited.clear()
        first_error = None
        for task in tasks:
            try:
                await asyncio.shield(task)
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
