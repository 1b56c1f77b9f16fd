"""Mutant: run_crew catches its own cancellation, stops the crew and returns the counts so far."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

Work = Callable[[str], Awaitable[None]]


class Crew:
    def __init__(self) -> None:
        self._go = asyncio.Event()
        self._stop = asyncio.Event()
        self._joined = 0
        self._joined_changed = asyncio.Condition()

    async def worker(self, name: str, work: Work) -> int:
        async with self._joined_changed:
            self._joined += 1
            self._joined_changed.notify_all()
        await self._go.wait()  # stop() sets go too, so nobody is left waiting here
        done = 0
        while not self._stop.is_set():
            await work(name)
            done += 1
        return done

    async def wait_ready(self, count: int) -> None:
        async with self._joined_changed:
            await self._joined_changed.wait_for(lambda: self._joined >= count)

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
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            crew.stop()
            return {}
        crew.stop()
    return {name: task.result() for name, task in tasks.items()}
