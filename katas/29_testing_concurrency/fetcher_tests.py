"""Kata 29: test fetch_all's concurrency deterministically, in virtual time.

The grader hands your tests one fixture, `fetch_all`: the function under test (the real
one, then each broken copy). Take it as a parameter; don't import it from fetcher.
Replace every `raise NotImplementedError(...)` with real code.
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
    raise NotImplementedError("test_fetches_run_at_the_same_time")


async def test_never_more_than_the_limit(fetch_all, looptime) -> None:
    """Many fetches, limit 3: exactly 3 in flight at the peak, and the time that implies."""
    raise NotImplementedError("test_never_more_than_the_limit")


async def test_results_follow_the_urls(fetch_all) -> None:
    """Results in the order of the urls, even when later urls answer first."""
    raise NotImplementedError("test_results_follow_the_urls")


async def test_a_slow_fetch_times_out(fetch_all, looptime) -> None:
    """A fetch slower than the timeout gives None after `fetch_timeout` seconds; the rest don't."""
    raise NotImplementedError("test_a_slow_fetch_times_out")


async def test_waiting_for_a_slot_is_not_timed(fetch_all) -> None:
    """With limit 1, a quick fetch queued behind another still gets its answer."""
    raise NotImplementedError("test_waiting_for_a_slot_is_not_timed")


async def test_errors_are_raised(fetch_all) -> None:
    """A fetch that fails with an error makes fetch_all raise it."""
    raise NotImplementedError("test_errors_are_raised")
