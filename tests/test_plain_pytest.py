"""`pytest katas --target ...` works for people who prefer pytest to the checker."""

from __future__ import annotations

import pytest

# Whole-course runs: minutes on a busy two-core machine, and more with every kata.
WHOLE_COURSE = pytest.mark.timeout(900)


@WHOLE_COURSE
def test_plain_pytest_passes_on_solutions(python) -> None:
    done = python("-m", "pytest", "katas", "--target=solutions", "-q")
    assert done.returncode == 0, done.stdout[-3000:]


def test_bare_pytest_runs_the_katas_not_the_suite(python) -> None:
    done = python("-m", "pytest", "-q", "--co")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "katas/01_coroutines/test_coroutines.py::" in done.stdout
    assert not any(line.startswith("tests/") for line in done.stdout.splitlines())


def test_plain_pytest_fails_on_the_stubs(python) -> None:
    # (Every stub reads as not started under the checker: verify proves that for each.)
    done = python("-m", "pytest", "katas/01_coroutines", "katas/30_capstone_service", "-q")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "NotImplementedError" in done.stdout


def test_plain_pytest_accepts_a_submission_folder(python, submission) -> None:
    folder = submission("partial")
    done = python("-m", "pytest", "katas/01_coroutines", "katas/02_blocking", f"--target={folder}")
    assert done.returncode == 1
    assert "NotImplementedError: double_result" in done.stdout
    assert " passed" in done.stdout  # kata 02, solved, still runs
