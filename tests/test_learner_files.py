"""The checker on learner files of every kind, friendly and hostile, in kata 01.

Each case puts one file from fixtures/learner/ in place of kata 01's, beside kata 02's
solution, and runs `python -m checker check 1 2 --target COPY --json`. Kata 01 must be
reported with its cause and kata 02, checked after it in the same run, must still pass.
Deterministic cases compare kata 01's report with a golden JSON in golden/ (only that
kata: a new kata or a reworded message elsewhere changes no golden); refresh them with
ASYNCKATA_UPDATE_GOLDEN=1 after a deliberate change.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The first test waits for every case's run (two at a time): give it room on a busy box.
pytestmark = pytest.mark.timeout(900)

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parent.parent

# case -> kata 01's expected status; its whole report is compared with golden/<case>.json
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
    # hardening: each kata pays for its own mess
    "leaves_loop_open": "failed",
    "file_left_open_at_import": "error",
    "patches_sleep_at_import": "error",
    "patches_sleep_in_call": "failed",
    "uses_file_attribute": "passed",
    "appends_bytes_forever": "timeout",
    "breakpoint_left": "timeout",
}


@dataclass(frozen=True)
class Loose:
    """A case whose exact path depends on timing: only its outcome and cause are fixed."""

    statuses: set[str]
    phrase: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


LOOSE_CASES = {
    # a spinning thread starves the test thread of the GIL
    "thread_forever": Loose({"failed", "timeout"}, "thread"),
    "executor_forever": Loose({"timeout"}, "thread"),
    # the thread exits the process half a second after the import
    "hidden_thread_exits": Loose({"error"}, "_thread.start_new_thread"),
    # how many tests hit the limit before one is slow enough to time out varies
    "allocates_forever": Loose({"failed", "timeout"}, "300 MB", ("--memory-limit", "300M")),
}


def normalise(report: dict[str, Any], target: Path) -> dict[str, Any]:
    text = json.dumps(report).replace(str(target), "<target>")
    text = re.sub(r"/tmp/[\w./-]+?/01_coroutines", "<target>/01_coroutines", text)
    data: dict[str, Any] = json.loads(text)
    return data


def check_golden(name: str, kata: dict[str, Any]) -> None:
    path = GOLDEN / f"{name}.json"
    if os.environ.get("ASYNCKATA_UPDATE_GOLDEN") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(kata, indent=2) + "\n")
    assert kata == json.loads(path.read_text()), f"kata 01's report differs from {path}"


def assert_neighbour_passes(report: dict[str, Any]) -> None:
    others = {k["id"]: k["status"] for k in report["katas"][1:]}
    assert others == {"02_blocking": "passed"}, f"the neighbour was affected: {others}"


def messages(kata: dict[str, Any]) -> str:
    return " ".join([kata["message"]] + [t["message"] for t in kata["tests"]])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, suite) -> dict[str, tuple[Any, Path]]:
    """Every case's checker run, two at a time: most of a hostile run is waiting."""

    def one(case: str) -> tuple[Any, Path]:
        target = suite.make_submission(tmp_path_factory.mktemp(case) / "submission", case)
        loose = LOOSE_CASES.get(case, Loose(set(), ""))
        done = suite.run(
            "-m", "checker", "check", "1", "2", "--target", str(target), "--json", *loose.args
        )
        return done, target

    cases = sorted(GOLDEN_CASES | LOOSE_CASES.keys())
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(cases, pool.map(one, cases), strict=True))


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_learner_file_is_reported_with_its_cause(case: str, runs) -> None:
    done, target = runs[case]
    assert done.returncode == (0 if GOLDEN_CASES[case] == "passed" else 1), done.stderr
    report = normalise(done.json(), target)
    kata = report["katas"][0]
    assert kata["status"] == GOLDEN_CASES[case], messages(kata)
    assert_neighbour_passes(report)
    check_golden(case, kata)


@pytest.mark.parametrize("case", sorted(LOOSE_CASES))
def test_timing_dependent_case_is_reported_with_its_cause(case: str, runs) -> None:
    loose = LOOSE_CASES[case]
    done, _ = runs[case]
    assert done.returncode == 1, done.stderr
    report = done.json()
    kata = report["katas"][0]
    assert kata["status"] in loose.statuses, messages(kata)
    assert loose.phrase in messages(kata)
    assert_neighbour_passes(report)


def test_control_characters_are_shown_not_obeyed(suite, tmp_path: Path) -> None:
    target = suite.make_submission(tmp_path / "submission", "prints_control_sequences")
    done = suite.run("-m", "checker", "check", "1", "--target", str(target))
    assert done.returncode == 1
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "\\x1b[2J" in done.stdout and "\\x07" in done.stdout  # escaped, visible


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreaper is Linux-only")
def test_no_process_started_by_learner_code_survives(suite, tmp_path: Path) -> None:
    target = suite.make_submission(tmp_path / "submission", "detached_processes")
    pidfile = tmp_path / "pids"
    done = suite.run(
        "-m",
        "checker",
        "check",
        "1",
        "2",
        "--target",
        str(target),
        "--json",
        env={"ASYNCKATA_TEST_PIDFILE": str(pidfile)},
    )
    pids = [int(line) for line in pidfile.read_text().split()]
    alive = [pid for pid in pids if _alive(pid)]
    for pid in alive:  # don't leave them behind even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert len(pids) == 2 and not alive, f"still running: {alive}"
    assert done.json()["katas"][1]["status"] == "passed"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_code_that_rewrites_tests_is_caught_and_undone(suite, tmp_path: Path) -> None:
    """Runs on its own (not in the pool above): it really writes to katas/ for a moment."""
    target = suite.make_submission(tmp_path / "submission", "writes_test_files")
    before = _tree_digest(ROOT / "katas")
    done = suite.run("-m", "checker", "check", "1", "2", "--target", str(target), "--json")
    assert _tree_digest(ROOT / "katas") == before, "a file under katas/ was left changed"
    first, second = done.json()["katas"]
    assert first["status"] == "passed", messages(first)  # its relative write landed nowhere
    assert second["status"] == "error"
    assert "katas/02_blocking/test_blocking.py changed while the tests ran" in second["message"]


def test_untouched_katas_are_not_started(course) -> None:
    done = course.checker("--json")
    assert done.returncode == 1
    report = done.json()
    assert report["passed"] == 0
    assert {k["status"] for k in report["katas"]} == {"not_started"}, [
        (k["id"], k["status"], k["message"]) for k in report["katas"]
    ]


def test_solutions_pass(course) -> None:
    done = course.checker("--target", "solutions", "--json")
    report = done.json()
    failing = [(k["id"], k["status"]) for k in report["katas"] if k["status"] != "passed"]
    assert done.returncode == 0 and not failing, failing
    assert report["passed"] == report["total"] == len(report["katas"]) == len(course.katas)
