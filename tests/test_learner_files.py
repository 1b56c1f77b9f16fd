"""The checker on learner files of every kind, friendly and hostile, in kata 01.

Each case drops one file from fixtures/learner/ into a copy of solutions/ and runs
`python -m checker --target COPY --json`. Kata 01 must be reported with its cause and
every other kata must still pass. Deterministic cases are compared with a golden JSON
report in golden/; refresh those with ASYNCKATA_UPDATE_GOLDEN=1 after a deliberate change.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).parent / "golden"

# case -> kata 01's expected status
GOLDEN_CASES = {
    "partial": "failed",
    "wrong": "failed",
    "empty": "error",
    "syntax_error": "error",
    "import_error": "error",
    "missing_name": "error",
    "sys_exit_import": "error",
    "os_exit_import": "error",
    "keyboard_interrupt_import": "error",
    "skip_at_import": "error",
    "loop_at_import": "timeout",
    "infinite_loop": "timeout",
    "baseexception_loop": "timeout",
    "deadlock": "timeout",
    "os_exit_in_test": "error",
    "sys_exit_in_test": "failed",
    "keyboard_interrupt_in_test": "error",
    "thread_waits_forever": "failed",
    "thread_at_import": "error",
    "prints_megabytes": "failed",
}
# Cases whose exact path depends on timing (a spinning thread starves the test thread
# of the GIL): only the outcome and its cause are fixed.
LOOSE_CASES = {
    "thread_forever": ({"failed", "timeout"}, "thread"),
    "executor_forever": ({"timeout"}, "thread"),
}


def normalise(report: dict[str, Any], target: Path) -> dict[str, Any]:
    text = json.dumps(report).replace(str(target), "<target>")
    data: dict[str, Any] = json.loads(text)
    return data


def check_golden(name: str, report: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("ASYNCKATA_UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
    assert report == json.loads(path.read_text()), f"report differs from {path}"


def assert_others_pass(report: dict[str, Any]) -> None:
    others = {k["id"]: k["status"] for k in report["katas"][1:]}
    assert set(others.values()) == {"passed"}, f"other katas were affected: {others}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, suite) -> dict[str, tuple[Any, Path]]:
    """Every case's checker run, two at a time: most of a hostile run is waiting."""

    def one(case: str) -> tuple[Any, Path]:
        target = suite.make_submission(tmp_path_factory.mktemp(case) / "submission", case)
        return suite.run("-m", "checker", "--target", str(target), "--json"), target

    cases = sorted(GOLDEN_CASES | LOOSE_CASES.keys())
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(cases, pool.map(one, cases), strict=True))


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_learner_file_is_reported_with_its_cause(case: str, runs) -> None:
    done, target = runs[case]
    assert done.returncode == 1, done.stderr
    report = normalise(done.json(), target)
    assert report["katas"][0]["status"] == GOLDEN_CASES[case]
    assert_others_pass(report)
    check_golden(case, report)


@pytest.mark.parametrize("case", sorted(LOOSE_CASES))
def test_thread_that_never_ends_is_reported(case: str, runs) -> None:
    statuses, phrase = LOOSE_CASES[case]
    done, _ = runs[case]
    assert done.returncode == 1, done.stderr
    report = done.json()
    kata = report["katas"][0]
    assert kata["status"] in statuses
    messages = " ".join([kata["message"]] + [t["message"] for t in kata["tests"]])
    assert phrase in messages
    assert_others_pass(report)


def test_untouched_katas_are_not_started(checker) -> None:
    done = checker("--json")
    assert done.returncode == 1
    report = done.json()
    assert report["passed"] == 0
    assert {k["status"] for k in report["katas"]} == {"not_started"}
    check_golden("stubs", report)


def test_solutions_pass(checker) -> None:
    done = checker("--target", "solutions", "--json")
    assert done.returncode == 0, done.stdout
    report = done.json()
    assert report["passed"] == report["total"] == len(report["katas"]) >= 4
    check_golden("solutions", report)
