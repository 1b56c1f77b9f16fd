"""Kata 26 tests: they are the spec. Read them, but don't edit them.

They grade YOUR tests (orders_tests.py): every one of them must pass against the real
order service (orders_app.py), and for every broken copy (orders_bugs.py) at least one of
them must fail. Each of your tests gets a fresh app through the `app` fixture below.
"""

from __future__ import annotations

from collections.abc import Callable

import orders_app
import orders_bugs
import orders_tests
import pytest
from fastapi import FastAPI

from checker.learner_tests import Gallery, Implementation


def fresh(build: Callable[[], FastAPI]) -> Callable[[], FastAPI]:
    """The app built once, now, with an empty store for every test.

    Building a FastAPI app costs more than a test; built while the tests are collected, the
    apps are also left out of the garbage collections that run after every test.
    """
    app = build()

    def get() -> FastAPI:
        app.state.store = type(app.state.store)()
        return app

    return get


gallery = Gallery(
    "app",
    Implementation("correct", "", fresh(orders_app.create_app)),
    [Implementation(bug, text, fresh(build)) for bug, (text, build) in orders_bugs.BUGS.items()],
)
globals().update(gallery.learner_tests(orders_tests))  # your tests and fixtures run here
app = gallery.fixture()  # a fresh app per test: the real one, then each broken copy


def test_your_tests_are_written() -> None:
    gallery.check_written()


def test_your_tests_pass_on_the_correct_app() -> None:
    gallery.check_correct()


@pytest.mark.parametrize("bug", gallery.bug_ids)
def test_your_tests_catch_the_bug(bug: str) -> None:
    gallery.check_caught(bug)


def test_your_tests_leave_nothing_behind() -> None:
    gallery.check_clean()
