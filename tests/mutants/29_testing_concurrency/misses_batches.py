"""Mutant (misses one bug): equal delays everywhere: batches look the same."""

from __future__ import annotations

import asyncio

import pytest


class FakeServer:
    """Answers each url after `delays[url]` seconds of event-loop time (given).

    It counts the fetches in flight and keeps the largest number seen (`peak`); a url in
    `broken` fails with ConnectionError when its time is up; the answer is the url's bytes.
    """

    def __init__(self, delays: dict[str, float], broken: frozenset[str] = frozenset()) -> None:
        self.delays = delays
        self.broken = broken
        self.in_flight = 0
        self.peak = 0
        self.started: list[str] = []

    async def fetch(self, url: str) -> bytes:
        self.started.append(url)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delays[url])
        finally:
            self.in_flight -= 1
        if url in self.broken:
            raise ConnectionError(f"{url} is down")
        return url.encode()


def elapsed(looptime, start: float) -> float:
    return float(looptime) - start


async def test_fetches_run_at_the_same_time(fetch_all, looptime) -> None:
    server = FakeServer({"a": 1, "b": 1, "c": 1})
    start = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["a", "b", "c"], server.fetch, limit=3)
    assert results == [b"a", b"b", b"c"]
    assert elapsed(looptime, start) == pytest.approx(1)
    assert server.peak == 3


async def test_never_more_than_the_limit(fetch_all, looptime) -> None:
    urls = [f"u{i}" for i in range(10)]
    server = FakeServer(dict.fromkeys(urls, 1.0))
    start = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(urls, server.fetch, limit=3)
    assert results == [url.encode() for url in urls]
    assert server.peak == 3
    assert elapsed(looptime, start) == pytest.approx(4)


async def test_results_follow_the_urls(fetch_all) -> None:
    server = FakeServer({"slow": 3, "medium": 2, "fast": 1})
    async with asyncio.timeout(60):
        results = await fetch_all(["slow", "medium", "fast"], server.fetch, limit=3)
    assert results == [b"slow", b"medium", b"fast"]


async def test_a_slow_fetch_times_out(fetch_all, looptime) -> None:
    server = FakeServer({"quick": 1, "stuck": 1000})
    start = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["stuck", "quick"], server.fetch, limit=3, fetch_timeout=2)
    assert results == [None, b"quick"]
    assert elapsed(looptime, start) == pytest.approx(2)
    assert server.in_flight == 0


async def test_waiting_for_a_slot_is_not_timed(fetch_all) -> None:
    server = FakeServer({"first": 4, "second": 4})
    async with asyncio.timeout(60):
        results = await fetch_all(["first", "second"], server.fetch, limit=1, fetch_timeout=5)
    assert results == [b"first", b"second"]
    assert server.peak == 1


async def test_errors_are_raised(fetch_all) -> None:
    server = FakeServer({"ok": 1, "down": 1}, broken=frozenset({"down"}))
    async with asyncio.timeout(60):
        with pytest.raises(ConnectionError):
            await fetch_all(["ok", "down"], server.fetch, limit=3)
