"""Right: a second, gated fake whose fetches wait until the test releases them, so the limit is
checked step by step; looptime only for durations
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


class GatedServer:
    """Each fetch waits until the test opens its gate; tracks who is in flight right now."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.running: set[str] = set()
        self.peak = 0

    def gate(self, url: str) -> asyncio.Event:
        return self.gates.setdefault(url, asyncio.Event())

    async def fetch(self, url: str) -> bytes:
        self.running.add(url)
        self.peak = max(self.peak, len(self.running))
        try:
            await self.gate(url).wait()
        finally:
            self.running.discard(url)
        return url.upper().encode()


async def settle() -> None:
    """Let every task that can run, run (virtual time: no real wait)."""
    await asyncio.sleep(0.01)


async def test_fetches_run_at_the_same_time(fetch_all, looptime) -> None:
    """Three 1-second fetches with room for all three take 1 second, not 3."""
    server = FakeServer({"a": 1, "b": 1, "c": 1})
    before = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["a", "b", "c"], server.fetch, limit=3)
    elapsed = float(looptime) - before
    assert results == [b"a", b"b", b"c"]
    assert elapsed == pytest.approx(1)
    assert server.peak == 3


async def test_never_more_than_the_limit(fetch_all, looptime) -> None:
    """Many fetches, limit 3: exactly 3 in flight at the peak, and the time that implies."""
    gated = GatedServer()
    urls = [f"p{i}" for i in range(8)]
    async with asyncio.timeout(60):
        task = asyncio.create_task(fetch_all(urls, gated.fetch, limit=3))
        await settle()
        assert len(gated.running) == 3
        first_three = set(gated.running)
        # open one gate: exactly one more fetch starts
        gated.gate(sorted(first_three)[0]).set()
        await settle()
        assert len(gated.running) == 3
        assert gated.running != first_three
        for url in urls:
            gated.gate(url).set()
        results = await task
    assert results == [url.upper().encode() for url in urls]
    assert gated.peak == 3
    assert not gated.running

    # the same limit seen through time: 9 fetches of 2 s, 3 at a time, take 6 s
    server = FakeServer({f"q{i}": 2 for i in range(9)})
    before = float(looptime)
    async with asyncio.timeout(60):
        await fetch_all([f"q{i}" for i in range(9)], server.fetch, limit=3)
    assert float(looptime) - before == pytest.approx(6)
    assert server.peak == 3


async def test_default_limit(fetch_all) -> None:
    gated = GatedServer()
    urls = [f"d{i}" for i in range(6)]
    async with asyncio.timeout(60):
        task = asyncio.create_task(fetch_all(urls, gated.fetch))
        await settle()
        assert len(gated.running) == 3
        for url in urls:
            gated.gate(url).set()
        assert await task == [url.upper().encode() for url in urls]


async def test_results_follow_the_urls(fetch_all) -> None:
    """Results in the order of the urls, even when later urls answer first."""
    gated = GatedServer()
    urls = ["one", "two", "three", "four"]
    async with asyncio.timeout(60):
        task = asyncio.create_task(fetch_all(urls, gated.fetch, limit=4))
        await settle()
        for url in reversed(urls):  # the last url answers first
            gated.gate(url).set()
            await settle()
        results = await task
    assert results == [b"ONE", b"TWO", b"THREE", b"FOUR"]


async def test_a_slow_fetch_times_out(fetch_all, looptime) -> None:
    """A fetch slower than the timeout gives None after `fetch_timeout` seconds; the rest don't."""
    server = FakeServer({"ok": 2, "never": 99_999})
    before = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["ok", "never"], server.fetch, limit=2, fetch_timeout=5)
    assert results == [b"ok", None]
    assert float(looptime) - before == pytest.approx(5)
    assert server.in_flight == 0

    server = FakeServer({"ok": 2, "never": 99_999})
    before = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["never", "ok"], server.fetch, limit=2, fetch_timeout=3)
    assert results == [None, b"ok"]
    assert float(looptime) - before == pytest.approx(3)

    server = FakeServer({"ok": 2, "never": 99_999})  # the default: 5 s
    before = float(looptime)
    async with asyncio.timeout(60):
        assert await fetch_all(["never", "ok"], server.fetch) == [None, b"ok"]
    assert float(looptime) - before == pytest.approx(5)


async def test_waiting_for_a_slot_is_not_timed(fetch_all, looptime) -> None:
    """With limit 1, a quick fetch queued behind another still gets its answer."""
    server = FakeServer({"long": 4.9, "quick": 0.5, "mid": 4})
    before = float(looptime)
    async with asyncio.timeout(60):
        results = await fetch_all(["long", "quick", "mid"], server.fetch, limit=1, fetch_timeout=5)
    assert results == [b"long", b"quick", b"mid"]
    assert float(looptime) - before == pytest.approx(9.4)
    assert server.peak == 1


async def test_errors_are_raised(fetch_all, looptime) -> None:
    """A fetch that fails with an error makes fetch_all raise it."""
    server = FakeServer({"fine": 1, "bad": 3, "slow": 50}, broken=frozenset({"bad"}))
    before = float(looptime)
    with pytest.raises(ConnectionError, match=r"^bad is down$"):
        async with asyncio.timeout(60):
            await fetch_all(["fine", "bad", "slow"], server.fetch, limit=3)
    assert float(looptime) - before == pytest.approx(3)
    assert server.in_flight == 0

    class Boom(Exception):
        pass

    async def explode(url: str) -> bytes:
        await asyncio.sleep(1)
        raise Boom(url)

    with pytest.raises(Boom):
        async with asyncio.timeout(60):
            await fetch_all(["x"], explode)
