"""Right: one parametrized test for many limits, and the loop's clock read directly."""

from __future__ import annotations

import asyncio
import math

import pytest


class Server:
    def __init__(self, delays: dict[str, float], broken: frozenset[str] = frozenset()) -> None:
        self.delays, self.broken = delays, broken
        self.now = 0
        self.peak = 0

    async def fetch(self, url: str) -> bytes:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.delays[url])
        finally:
            self.now -= 1
        if url in self.broken:
            raise ConnectionError(url)
        return url.upper().encode()


async def run(fetch_all, urls, server, **kw):
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(3600):
        results = await fetch_all(urls, server.fetch, **kw)
    return results, loop.time() - start


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 12])
async def test_limit_and_time(fetch_all, limit: int) -> None:
    urls = [f"u{i}" for i in range(12)]
    server = Server(dict.fromkeys(urls, 2.0))
    results, took = await run(fetch_all, urls, server, limit=limit)
    assert results == [u.upper().encode() for u in urls]
    assert server.peak == min(limit, len(urls))
    assert took == pytest.approx(2.0 * math.ceil(len(urls) / limit))


async def test_order(fetch_all) -> None:
    urls = ["a", "b", "c", "d"]
    server = Server({"a": 4, "b": 3, "c": 2, "d": 1})
    results, _ = await run(fetch_all, urls, server, limit=4)
    assert results == [b"A", b"B", b"C", b"D"]


async def test_timeouts(fetch_all) -> None:
    server = Server({"hang": 10_000, "ok": 3, "queued": 3})
    results, took = await run(fetch_all, ["hang", "ok", "queued"], server, limit=2, fetch_timeout=7)
    assert results == [None, b"OK", b"QUEUED"]
    assert took == pytest.approx(7)


async def test_error(fetch_all) -> None:
    server = Server({"x": 1, "y": 2}, broken=frozenset({"x"}))
    with pytest.raises(ConnectionError):
        await run(fetch_all, ["x", "y"], server)
