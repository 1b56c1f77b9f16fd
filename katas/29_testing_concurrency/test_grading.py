"""Kata 29 tests: they are the spec. Read them, but don't edit them.

They grade YOUR tests (fetcher_tests.py): every one of them must pass against the real
`fetch_all` (fetcher.py), and for every broken copy (fetcher_bugs.py) at least one of
them must fail. Each of your tests gets the function through the `fetch_all` fixture below.
"""

from __future__ import annotations

import fetcher
import fetcher_bugs
import fetcher_tests
import pytest

from checker.learner_tests import Gallery, Implementation

gallery = Gallery(
    "fetch_all",
    Implementation("correct", "", lambda: fetcher.fetch_all),
    [
        Implementation(bug, text, lambda function=function: function)
        for bug, (text, function) in fetcher_bugs.BUGS.items()
    ],
)
globals().update(gallery.learner_tests(fetcher_tests))  # your tests and fixtures run here
fetch_all = gallery.fixture()  # the function for each test: the real one, then each broken copy


def test_your_tests_are_written() -> None:
    gallery.check_written()


def test_your_tests_pass_on_the_correct_app() -> None:
    gallery.check_correct()


@pytest.mark.parametrize("bug", gallery.bug_ids)
def test_your_tests_catch_the_bug(bug: str) -> None:
    gallery.check_caught(bug)


def test_your_tests_leave_nothing_behind() -> None:
    gallery.check_clean()
