"""Right answer: wait_ready keeps an Event per waiting call, set when its count is reached."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

Work = Callable[[str], Awaitable[None]]


class Crew:
    def __init__(self) -> None:
        self._go = asyncio.Event()
        self._stop = asyncio.Event()
        self._joined = 0
        self._waiting: list[tuple[int, asyncio.Event]] = []

    async def worker(self, name: str, work: Work) -> int:
        self._joined += 1
        for count, reached in self._waiting:
            if self._joined >= count:
                reached.set()
        await self._go.wait()  # stop() sets go too, so nobody is left waiting here
        done = 0
        while not self._stop.is_set():
            await work(name)
            done += 1
        return done

    async def wait_ready(self, count: int) -> None:
        if self._joined >= count:
            return
        reached = asyncio.Event()
        self._waiting.append((count, reached))
        try:
            await reached.wait()
        finally:
            self._waiting.remove((count, reached))

    def go(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()


async def run_crew(
    names: Sequence[str], prepare: Work, work: Work, seconds: float
) -> dict[str, int]:
    crew = Crew()

    async def one(name: str) -> int:
        await prepare(name)
        return await crew.worker(name, work)

    async with asyncio.TaskGroup() as tg:
        tasks = {name: tg.create_task(one(name)) for name in names}
        await crew.wait_ready(len(names))
        crew.go()
        await asyncio.sleep(seconds)
        crew.stop()
    return {name: task.result() for name, task in tasks.items()}
