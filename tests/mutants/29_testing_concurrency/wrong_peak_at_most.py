"""Wrong: the limit test asserts peak <= 3 and never the time it implies, and the first test only
checks "faster than 3 s": a fetch_all that runs one fewer than the limit passes
"""

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


async def test_fetches_run_at_the_same_time(fetch_all, looptime) -> None:
    """Three 1-second fetches with room for all three take 1 second, not 3."""
    server = FakeServer({"a": 1, "b": 1, "c": 1})
    start = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["a", "b", "c"], server.fetch, limit=3)
    assert results == [b"a", b"b", b"c"]
    assert float(looptime) - start < 3  # not one after another
    assert server.in_flight == 0


async def test_never_more_than_the_limit(fetch_all, looptime) -> None:
    """Many fetches, limit 3: exactly 3 in flight at the peak, and the time that implies."""
    urls = [f"u{i}" for i in range(10)]
    server = FakeServer(dict.fromkeys(urls, 1))
    async with asyncio.timeout(60):
        results = await fetch_all(urls, server.fetch, limit=3)
    assert results == [url.encode() for url in urls]
    assert server.peak <= 3
    assert server.in_flight == 0


async def test_results_follow_the_urls(fetch_all) -> None:
    """Results in the order of the urls, even when later urls answer first."""
    server = FakeServer({"a": 4.5, "b": 4, "c": 3, "d": 2, "e": 1})  # all under the 5 s timeout
    async with asyncio.timeout(60):
        results = await fetch_all(["a", "b", "c", "d", "e"], server.fetch, limit=5)
    assert results == [b"a", b"b", b"c", b"d", b"e"]

    # also when the limit makes them wait, and with a url twice
    server = FakeServer({"a": 4.5, "b": 4, "c": 3, "d": 2, "e": 1})
    async with asyncio.timeout(60):
        results = await fetch_all(["e", "a", "d", "b", "c", "a"], server.fetch, limit=2)
    assert results == [b"e", b"a", b"d", b"b", b"c", b"a"]

    async with asyncio.timeout(60):
        assert await fetch_all([], server.fetch) == []


async def test_a_slow_fetch_times_out(fetch_all, looptime) -> None:
    """A fetch slower than the timeout gives None after `fetch_timeout` seconds; the rest don't."""
    server = FakeServer({"fast": 1, "slow": 1000, "ok": 4})
    start = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["fast", "slow", "ok"], server.fetch, limit=3, fetch_timeout=5)
    assert results == [b"fast", None, b"ok"]
    assert float(looptime) - start == pytest.approx(5)
    assert server.in_flight == 0  # the slow one was cancelled

    # another timeout is honoured, and the default is 5 seconds
    server = FakeServer({"slow": 1000, "fast": 1})
    start = float(looptime)
    async with asyncio.timeout(60):
        assert await fetch_all(["slow", "fast"], server.fetch, fetch_timeout=2.5) == [None, b"fast"]
    assert float(looptime) - start == pytest.approx(2.5)

    start = float(looptime)
    async with asyncio.timeout(60):
        assert await fetch_all(["slow", "fast"], server.fetch) == [None, b"fast"]
    assert float(looptime) - start == pytest.approx(5)


async def test_waiting_for_a_slot_is_not_timed(fetch_all) -> None:
    """With limit 1, a quick fetch queued behind another still gets its answer."""
    server = FakeServer({"first": 4, "second": 4})
    async with asyncio.timeout(60):
        results = await fetch_all(["first", "second"], server.fetch, limit=1, fetch_timeout=5)
    assert results == [b"first", b"second"]
    assert server.peak == 1

    server = FakeServer({"first": 4.5, "quick": 1})
    async with asyncio.timeout(60):
        results = await fetch_all(["first", "quick"], server.fetch, limit=1, fetch_timeout=5)
    assert results == [b"first", b"quick"]

    # a timed-out fetch frees its slot for the next one
    server = FakeServer({"stuck": 1000, "quick": 1})
    async with asyncio.timeout(60):
        results = await fetch_all(["stuck", "quick"], server.fetch, limit=1, fetch_timeout=5)
    assert results == [None, b"quick"]


async def test_errors_are_raised(fetch_all, looptime) -> None:
    """A fetch that fails with an error makes fetch_all raise it."""
    server = FakeServer({"ok": 1, "down": 1}, broken=frozenset({"down"}))
    async with asyncio.timeout(60):
        with pytest.raises(ConnectionError, match="down is down"):
            await fetch_all(["ok", "down"], server.fetch)

    # the error comes at once: the other fetches are cancelled, not awaited
    server = FakeServer({"down": 1, "slow": 100, "slower": 200}, broken=frozenset({"down"}))
    start = float(looptime)
    async with asyncio.timeout(60):
        with pytest.raises(ConnectionError):
            await fetch_all(["slow", "down", "slower"], server.fetch, limit=3)
    assert float(looptime) - start == pytest.approx(1)
    assert server.in_flight == 0
