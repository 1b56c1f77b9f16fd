"""Right: parametrized over limits and url counts, time read from
asyncio.get_running_loop().time(), a run() helper with the hang guard
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


async def run(fetch_all, urls, server, **kwargs):
    """Call fetch_all under a hang guard; give back (results, loop seconds it took)."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with asyncio.timeout(60):
        results = await fetch_all(urls, server.fetch, **kwargs)
    return results, loop.time() - start


async def test_fetches_run_at_the_same_time(fetch_all, looptime) -> None:
    """Three 1-second fetches with room for all three take 1 second, not 3."""
    server = FakeServer({"a": 1, "b": 1, "c": 1})
    results, took = await run(fetch_all, ["a", "b", "c"], server, limit=3)
    assert results == [b"a", b"b", b"c"]
    assert took == pytest.approx(1)
    assert server.peak == 3


@pytest.mark.parametrize(
    ("count", "limit", "seconds"),
    [(10, 3, 4), (9, 3, 3), (7, 2, 4), (5, 1, 5), (4, 10, 1), (12, 4, 3)],
)
async def test_never_more_than_the_limit(fetch_all, looptime, count, limit, seconds) -> None:
    """Many fetches, limit 3: exactly 3 in flight at the peak, and the time that implies."""
    urls = [f"https://example.com/{i}" for i in range(count)]
    server = FakeServer(dict.fromkeys(urls, 1.0))
    results, took = await run(fetch_all, urls, server, limit=limit)
    assert results == [url.encode() for url in urls]
    assert server.peak == min(limit, count)
    assert took == pytest.approx(seconds)
    assert len(server.started) == count


async def test_default_limit_is_three(fetch_all, looptime) -> None:
    urls = [str(i) for i in range(8)]
    server = FakeServer(dict.fromkeys(urls, 2))
    results, took = await run(fetch_all, urls, server)
    assert results == [url.encode() for url in urls]
    assert server.peak == 3
    assert took == pytest.approx(6)


async def test_slots_are_refilled_one_by_one(fetch_all, looptime) -> None:
    # limit 3: one 6 s fetch holds a slot while six 1 s fetches share the other two
    delays = {"big": 6, **{f"s{i}": 1 for i in range(6)}}
    server = FakeServer(delays)
    results, took = await run(fetch_all, list(delays), server, limit=3, fetch_timeout=60)
    assert results == [url.encode() for url in delays]
    assert took == pytest.approx(6)  # batches of three would take 6 + 1 + 1 = 8
    assert server.peak == 3


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_results_follow_the_urls(fetch_all, limit) -> None:
    """Results in the order of the urls, even when later urls answer first."""
    delays = {"z": 4.5, "y": 4, "x": 3, "w": 2, "v": 1}  # each under the 5 s timeout
    server = FakeServer(delays)
    results, _ = await run(fetch_all, ["z", "y", "x", "w", "v"], server, limit=limit)
    assert results == [b"z", b"y", b"x", b"w", b"v"]


async def test_same_url_twice_and_no_urls(fetch_all) -> None:
    server = FakeServer({"b": 2, "a": 1})
    results, _ = await run(fetch_all, ["b", "a", "b"], server)
    assert results == [b"b", b"a", b"b"]
    results, took = await run(fetch_all, [], server)
    assert results == []
    assert took == pytest.approx(0)


@pytest.mark.parametrize("timeout", [5.0, 2.0, 7.5])
async def test_a_slow_fetch_times_out(fetch_all, looptime, timeout) -> None:  # noqa: ASYNC109
    """A fetch slower than the timeout gives None after `fetch_timeout` seconds; the rest don't."""
    server = FakeServer({"quick": 1, "hung": 10_000, "almost": timeout - 0.5})
    results, took = await run(
        fetch_all, ["hung", "quick", "almost"], server, limit=3, fetch_timeout=timeout
    )
    assert results == [None, b"quick", b"almost"]
    assert took == pytest.approx(timeout)
    assert server.in_flight == 0


async def test_default_timeout_is_five_seconds(fetch_all, looptime) -> None:
    server = FakeServer({"hung": 10_000, "slowish": 4.5})
    results, took = await run(fetch_all, ["hung", "slowish"], server)
    assert results == [None, b"slowish"]
    assert took == pytest.approx(5)


async def test_waiting_for_a_slot_is_not_timed(fetch_all) -> None:
    """With limit 1, a quick fetch queued behind another still gets its answer."""
    server = FakeServer({"first": 4, "second": 4, "third": 4})
    results, took = await run(
        fetch_all, ["first", "second", "third"], server, limit=1, fetch_timeout=5
    )
    assert results == [b"first", b"second", b"third"]
    assert took == pytest.approx(12)
    assert server.peak == 1


async def test_a_timeout_frees_the_slot(fetch_all) -> None:
    server = FakeServer({"hung": 10_000, "next": 1})
    results, took = await run(fetch_all, ["hung", "next"], server, limit=1, fetch_timeout=3)
    assert results == [None, b"next"]
    assert took == pytest.approx(4)


@pytest.mark.parametrize("position", [0, 1, 2])
async def test_errors_are_raised(fetch_all, position) -> None:
    """A fetch that fails with an error makes fetch_all raise it."""
    urls = ["a", "b", "c"]
    broken = urls[position]
    server = FakeServer({"a": 3, "b": 2, "c": 1}, broken=frozenset({broken}))
    with pytest.raises(ConnectionError) as caught:
        await run(fetch_all, urls, server, limit=3)
    assert type(caught.value) is ConnectionError
    assert str(caught.value) == f"{broken} is down"


async def test_an_error_cancels_the_rest(fetch_all, looptime) -> None:
    server = FakeServer({"down": 2, "forever": 10_000}, broken=frozenset({"down"}))
    start = float(looptime)
    with pytest.raises(ConnectionError):
        await run(fetch_all, ["forever", "down"], server, limit=2, fetch_timeout=20_000)
    assert float(looptime) - start == pytest.approx(2)
    assert server.in_flight == 0
