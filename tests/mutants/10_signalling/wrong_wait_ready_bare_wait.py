"""Mutant (blind review): wait_ready calls a bare cond.wait() without checking first, so it hangs
if enough have already joined.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

Work = Callable[[str], Awaitable[None]]


class Crew:
    """Workers that join, start together on "go", and finish on "stop".

    Every Crew has its own signals: go or stop on one crew never affects another.
    """

    def __init__(self) -> None:
        """A new crew: nobody has joined yet; neither go nor stop has happened."""
        self._go = asyncio.Event()
        self._stop = asyncio.Event()
        self._count = 0
        self._joined = asyncio.Condition()

    async def worker(self, name: str, work: Work) -> int:
        """Be one worker of this crew; return how many times `work(name)` finished.

        The worker joins the crew at once (so wait_ready counts it), then waits for go,
        then awaits `work(name)` again and again until stop. Stop does not interrupt a
        piece of work: the worker finishes the one it is doing, then returns. A worker
        that joins after go starts working at once. A worker still waiting for go when
        stop comes, or joining after stop, returns 0 at once without working. If `work`
        raises, the error comes out of worker.
        """
        async with self._joined:
            self._count += 1
            self._joined.notify_all()
        await self._go.wait()
        done = 0
        while not self._stop.is_set():
            await work(name)
            done += 1
        return done

    async def wait_ready(self, count: int) -> None:
        """Return as soon as `count` workers have joined this crew (at once if they have)."""
        async with self._joined:
            while True:
                await self._joined.wait()
                if self._count >= count:
                    return

    def go(self) -> None:
        """Let every worker start: the ones waiting now and any that join later."""
        self._go.set()

    def stop(self) -> None:
        """Tell every worker to finish (see worker), including those waiting for go."""
        self._stop.set()
        self._go.set()  # wake the workers still waiting for go


async def run_crew(
    names: Sequence[str], prepare: Work, work: Work, seconds: float
) -> dict[str, int]:
    """Run a new crew, one worker per name; return {name: how many times it worked}.

    Each worker first awaits `prepare(name)` (each takes its own time), then joins the
    crew. The moment all of them have joined, say go; `seconds` after go, say stop; then
    wait until every worker has finished. The names are all different.
    If a prepare or a work raises, the other workers are cancelled at once, and the error
    comes out of run_crew (on its own or inside an ExceptionGroup) once they have stopped.
    If run_crew is cancelled, its workers are cancelled too, and have stopped before the
    cancellation reaches the caller.
    """
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
