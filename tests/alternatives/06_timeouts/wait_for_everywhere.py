"""Right answer: asyncio.wait_for instead of asyncio.timeout in all three, with the download in
an inner coroutine.
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
    for _ in range(attempts):
        try:
            return await asyncio.wait_for(fetch(url), attempt_timeout)
        except TimeoutError:
            pass
    raise TimeoutError(f"no answer from {url}")


async def download(pool, url, *, time_limit):
    async def lease_and_fetch():
        conn = await pool.acquire()
        try:
            return await conn.fetch(url)
        finally:
            await pool.release(conn)

    return await asyncio.wait_for(lease_and_fetch(), time_limit)


class OrderService:
    def __init__(self, save):
        self._save = save
        self._unwaited = []

    async def place(self, order, *, time_limit):
        task = asyncio.create_task(self._save(order))
        try:
            return await asyncio.wait_for(asyncio.shield(task), time_limit)
        finally:
            if not task.done():
                self._unwaited.append(task)

    async def drain(self):
        tasks, self._unwaited = self._unwaited, []
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
