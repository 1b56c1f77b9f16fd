"""Testing katas: the learner's own tests, graded against a correct app and broken ones.

Each case puts a test file from fixtures/learner_tests/ in place of kata 26's, beside kata
27's reference solution, and runs `python -m checker check 26 27 --target COPY --json`:
kata 26 must get the verdict the case is about, and kata 27, checked after it in the same
run, must still pass (a patch left behind in 26 must not reach it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES, ROOT, Run

KATAS = ("26_testing_apis", "27_dependency_overrides")


def submit(tmp_path: Path, fixture: str | None) -> Path:
    target = tmp_path / "submission"
    for kata in KATAS:
        shutil.copytree(ROOT / "solutions" / kata, target / kata)
    if fixture is not None:
        shutil.copyfile(
            FIXTURES / "learner_tests" / f"{fixture}.py", target / KATAS[0] / "orders_tests.py"
        )
    return target


def check(checker: Callable[..., Run], target: Path) -> dict[str, dict[str, Any]]:
    run = checker("check", "26", "27", "--target", str(target), "--json")
    katas = {k["id"]: k for k in run.json()["katas"]}
    assert katas[KATAS[1]]["status"] == "passed", katas[KATAS[1]]
    return katas


def messages(kata: dict[str, Any]) -> dict[str, str]:
    return {t["name"]: t["message"] for t in kata["tests"] if t["status"] != "passed"}


def test_the_stub_is_not_started(checker: Callable[..., Run], tmp_path: Path) -> None:
    target = submit(tmp_path, None)
    shutil.copyfile(
        ROOT / "katas" / KATAS[0] / "orders_tests.py", target / KATAS[0] / "orders_tests.py"
    )
    kata = check(checker, target)[KATAS[0]]
    assert kata["status"] == "not_started"
    assert set(messages(kata).values()) == {"NotImplementedError: client"}  # the first TODO


def test_status_codes_only_let_bugs_through(checker: Callable[..., Run], tmp_path: Path) -> None:
    kata = check(checker, submit(tmp_path, "status_only"))[KATAS[0]]
    assert kata["status"] == "failed"
    failed = messages(kata)
    assert "test_your_tests_pass_on_the_correct_app" not in failed
    assert failed["test_your_tests_catch_the_bug[no-location]"] == (
        "Your tests let this bug through: POST /orders sends no Location header for the new order."
    )
    assert "test_your_tests_catch_the_bug[created-200]" not in failed  # that one it checks


def test_a_test_that_fails_on_the_correct_app_is_named(
    checker: Callable[..., Run], tmp_path: Path
) -> None:
    kata = check(checker, submit(tmp_path, "fails_on_correct"))[KATAS[0]]
    message = messages(kata)["test_your_tests_pass_on_the_correct_app"]
    assert message.startswith("test_create_order fails on the correct version")
    assert "assert 201 == 200" in message


def test_a_patch_left_behind_is_reported_and_undone(
    checker: Callable[..., Run], tmp_path: Path
) -> None:
    kata = check(checker, submit(tmp_path, "leaves_a_patch"))[KATAS[0]]  # 27 still passes
    assert messages(kata) == {
        "test_your_tests_leave_nothing_behind": (
            "test_breaks_httpx left something behind: a patch of `send`, started and never "
            "stopped. Undo what a test changes when it ends: a fixture with `yield` (or `with "
            "patch(...)`), so no other test sees it."
        )
    }


def test_a_test_that_hangs_on_a_broken_copy_still_catches_it(
    checker: Callable[..., Run], tmp_path: Path
) -> None:
    kata = check(checker, submit(tmp_path, "hangs_on_a_broken_copy"))[KATAS[0]]
    assert kata["status"] == "passed", messages(kata)


def test_no_tests_at_all(checker: Callable[..., Run], tmp_path: Path) -> None:
    kata = check(checker, submit(tmp_path, "no_tests"))[KATAS[0]]
    assert kata["status"] == "failed"
    assert set(messages(kata).values()) == {
        "Your file has no tests yet: write functions whose names start with `test_`."
    }


def test_plain_pytest_passes_on_the_reference_tests(python: Callable[..., Run]) -> None:
    """Runs against broken copies show as xfail/xpass in plain pytest, never as failures."""
    run = python("-m", "pytest", "katas/26_testing_apis", "--target=solutions", "-q")
    assert run.returncode == 0, run.stdout[-2000:]
    assert "xfailed" in run.stdout
