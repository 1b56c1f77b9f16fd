"""Kata 10: signalling. Read README.md, then fill in each TODO."""

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
        # TODO: an asyncio.Event for go and one for stop, a count of the workers who
        # joined, and an asyncio.Condition to wait on that count.
        raise NotImplementedError("Crew.__init__")

    async def worker(self, name: str, work: Work) -> int:
        """Be one worker of this crew; return how many times `work(name)` finished.

        The worker joins the crew at once (so wait_ready counts it), then waits for go,
        then awaits `work(name)` again and again until stop. Stop does not interrupt a
        piece of work: the worker finishes the one it is doing, then returns. A worker
        that joins after go starts working at once. A worker still waiting for go when
        stop comes, or joining after stop, returns 0 at once without working. If `work`
        raises, the error comes out of worker.
        """
        # TODO: join (count + notify), then wait for the go event (no polling), then work
        # until the stop event is set.
        raise NotImplementedError("Crew.worker")

    async def wait_ready(self, count: int) -> None:
        """Return as soon as `count` workers have joined this crew (at once if they have)."""
        # TODO: wait on the condition until the count is high enough.
        raise NotImplementedError("Crew.wait_ready")

    def go(self) -> None:
        """Let every worker start: the ones waiting now and any that join later."""
        # TODO: one set() wakes every waiter.
        raise NotImplementedError("Crew.go")

    def stop(self) -> None:
        """Tell every worker to finish (see worker), including those waiting for go."""
        # TODO: set the stop event, and wake the workers still waiting for go.
        raise NotImplementedError("Crew.stop")


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
    # TODO: a Crew of its own; start every worker (prepare, then crew.worker) as a task,
    # wait until all are ready, go, sleep `seconds`, stop, and wait for the workers.
    raise NotImplementedError("run_crew")
