"""Broken copies of `fetch_all`: the grader runs your tests against each.

Try not to read this before your tests are written: a good test suite catches bugs it was
not written for. Each bug is one realistic mistake, described the way a bug report would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fetcher import Fetch

FetchAll = Callable[..., Awaitable[list[bytes | None]]]


def _broken(bug: str) -> FetchAll:
    async def fetch_all(
        urls: list[str], fetch: Fetch, limit: int = 3, fetch_timeout: float = 5.0
    ) -> list[bytes | None]:
        if bug == "limit-ignored":
            limit = 3
        if bug == "timeout-ignored":
            fetch_timeout = 5.0
        sizes = {"limit-plus-one": limit + 1, "limit-minus-one": max(limit - 1, 1)}
        slots = asyncio.Semaphore(sizes.get(bug, limit))

        async def guarded(url: str) -> bytes | None:
            try:
                if bug == "no-timeout":
                    return await fetch(url)
                async with asyncio.timeout(fetch_timeout):
                    return await fetch(url)
            except TimeoutError:
                return None
            except Exception:
                if bug == "errors-are-none":
                    return None
                raise

        async def one(url: str) -> bytes | None:
            if bug == "unbounded":
                return await guarded(url)
            if bug == "timeout-counts-the-wait":
                try:
                    async with asyncio.timeout(fetch_timeout):
                        async with slots:
                            return await fetch(url)
                except TimeoutError:
                    return None
            async with slots:
                return await guarded(url)

        if bug == "sequential":
            return [await one(url) for url in urls]
        if bug == "batches":
            results: list[bytes | None] = []
            for start in range(0, len(urls), limit):
                batch = urls[start : start + limit]
                results.extend(await asyncio.gather(*(guarded(url) for url in batch)))
            return results
        if bug == "error-group":
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(url)) for url in urls]
            return [task.result() for task in tasks]
        if bug == "finish-order":
            done: list[bytes | None] = []

            async def keep(url: str) -> None:
                done.append(await one(url))

            try:
                async with asyncio.TaskGroup() as group:
                    for url in urls:
                        group.create_task(keep(url))
            except ExceptionGroup as failed:
                raise failed.exceptions[0] from None
            return done
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(url)) for url in urls]
        except ExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return [task.result() for task in tasks]

    return fetch_all


# id -> (what the bug report says, the broken function)
BUGS: dict[str, tuple[str, FetchAll]] = {
    "sequential": ("fetch_all fetches one url at a time", _broken("sequential")),
    "unbounded": ("fetch_all starts every fetch at once, whatever the limit", _broken("unbounded")),
    "limit-plus-one": (
        "one more fetch than the limit runs at the same time",
        _broken("limit-plus-one"),
    ),
    "batches": (
        "fetch_all works in fixed batches: the next fetches wait for the whole batch",
        _broken("batches"),
    ),
    "limit-minus-one": (
        "one fetch fewer than the limit runs at the same time",
        _broken("limit-minus-one"),
    ),
    "limit-ignored": ("the limit is always 3, whatever the caller asks", _broken("limit-ignored")),
    "timeout-ignored": (
        "the timeout is always 5 seconds, whatever the caller asks",
        _broken("timeout-ignored"),
    ),
    "error-group": (
        "a failing fetch comes out wrapped in an ExceptionGroup, not as its own error",
        _broken("error-group"),
    ),
    "no-timeout": ("a fetch that never answers is waited for forever", _broken("no-timeout")),
    "timeout-counts-the-wait": (
        "a url that waits for a free slot times out, even when its own fetch is quick",
        _broken("timeout-counts-the-wait"),
    ),
    "errors-are-none": (
        "a fetch that fails with an error is reported as None instead of raising",
        _broken("errors-are-none"),
    ),
    "finish-order": (
        "the results come back in the order the fetches finished, not the order of the urls",
        _broken("finish-order"),
    ),
}
