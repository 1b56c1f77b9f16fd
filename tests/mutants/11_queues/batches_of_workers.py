"""Mutant: reads `workers` items at a time and gathers each batch; a slow item holds it up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def process_all(
    source: AsyncIterable[T],
    handle: Callable[[T], Awaitable[R]],
    *,
    workers: int,
    maxsize: int,
) -> list[R | Exception]:
    """Handle every item of `source` with `workers` worker tasks fed by a bounded queue."""
    results: list[R | Exception] = []
    batch: list[T] = []

    async def run(batch: list[T]) -> None:
        done = await asyncio.gather(*(handle(item) for item in batch), return_exceptions=True)
        results.extend(done)  # type: ignore[arg-type]

    async for item in source:
        batch.append(item)
        if len(batch) == workers:
            await run(batch)
            batch = []
    if batch:
        await run(batch)
    return results
