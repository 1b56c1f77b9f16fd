"""Kata 27 tests: they are the spec. Read them, but don't edit them.

They grade YOUR tests (shop_tests.py): every one of them must pass against the real
shop (shop_app.py), and for every broken copy (shop_bugs.py) at least one of
them must fail. Each of your tests gets the app through the `app` fixture below.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import shop_app
import shop_bugs
import shop_tests
from fastapi import FastAPI

from checker.learner_tests import Gallery, Implementation


def once(build: Callable[[], FastAPI]) -> Callable[[], FastAPI]:
    """The app built once, now: it keeps no state (that lives in what your tests inject),
    and the grader empties `dependency_overrides` after every test."""
    app = build()
    return lambda: app


gallery = Gallery(
    "app",
    Implementation("correct", "", once(shop_app.create_app)),
    [Implementation(bug, text, once(build)) for bug, (text, build) in shop_bugs.BUGS.items()],
)
globals().update(gallery.learner_tests(shop_tests))  # your tests and fixtures run here
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
