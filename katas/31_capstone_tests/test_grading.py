"""Kata 31 tests: they are the spec. Read them, but don't edit them.

They grade YOUR tests (bookcache_tests.py): every one of them must pass against the real
cached book endpoints (bookcache_app.py), and for every broken copy (bookcache_bugs.py) at
least one of them must fail. Each of your tests gets the app through the `app` fixture
below: its lifespan opens a new in-memory database and a new, empty fakeredis every time it
starts, so nothing one test does reaches another.
"""

from __future__ import annotations

from collections.abc import Callable

import bookcache_app
import bookcache_bugs
import bookcache_tests
import pytest
from fakeredis import FakeAsyncRedis, FakeServer
from fastapi import FastAPI

from checker.learner_tests import Gallery, Implementation

# aiosqlite runs the database on a thread of its own, in real time. Virtual time would jump
# ahead to the next timer (LifespanManager's startup timeout, your asyncio.timeout) while
# that thread works: these tests run on the real clock, and every step is short.
pytestmark = pytest.mark.looptime(False)


def fake_redis() -> FakeAsyncRedis:
    """A fakeredis client with a server of its own (no data shared with other tests)."""
    return FakeAsyncRedis(server=FakeServer(), decode_responses=True)


def once(build: Callable[..., FastAPI]) -> Callable[[], FastAPI]:
    """The app built once, now: its lifespan makes the database and Redis afresh at every
    start, and the grader empties `dependency_overrides` after every test."""
    app = build(redis=fake_redis)
    return lambda: app


gallery = Gallery(
    "app",
    Implementation("correct", "", once(bookcache_app.create_app)),
    [Implementation(bug, text, once(build)) for bug, (text, build) in bookcache_bugs.BUGS.items()],
)
globals().update(gallery.learner_tests(bookcache_tests))  # your tests and fixtures run here
app = gallery.fixture()  # the app for each test: the real one, then each broken copy


def test_your_tests_are_written() -> None:
    gallery.check_written()


def test_your_tests_pass_on_the_correct_app() -> None:
    gallery.check_correct()


@pytest.mark.parametrize("bug", gallery.bug_ids)
def test_your_tests_catch_the_bug(bug: str) -> None:
    gallery.check_caught(bug)


def test_your_tests_leave_nothing_behind() -> None:
    gallery.check_clean()
