"""`pytest katas --target ...` works for people who prefer pytest to the checker."""

from __future__ import annotations


def test_plain_pytest_passes_on_solutions(python) -> None:
    done = python("-m", "pytest", "katas", "--target=solutions", "-q")
    assert done.returncode == 0, done.stdout[-3000:]


def test_plain_pytest_fails_on_the_stubs(python) -> None:
    done = python("-m", "pytest", "katas", "-q")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "NotImplementedError" in done.stdout


def test_plain_pytest_accepts_a_submission_folder(python, submission) -> None:
    done = python("-m", "pytest", "katas", f"--target={submission('partial')}", "-q")
    assert done.returncode == 1
    assert "2 failed" in done.stdout
