"""The command line as a learner and an instructor meet it: output, exit codes, usage errors."""

from __future__ import annotations

import pytest


def test_untouched_katas_show_next_up_and_exit_1(course) -> None:
    done = course.checker()
    assert done.returncode == 1
    assert f"0 of {len(course.katas)} katas passed" in done.stdout
    assert "Next up: 01 Coroutines and the event loop" in done.stdout
    assert "katas/01_coroutines/coroutines.py" in done.stdout
    assert "still a TODO" in done.stdout
    assert "Hint:" in done.stdout


def test_solutions_show_all_done_and_exit_0(course) -> None:
    done = course.checker("--target", "solutions")
    assert done.returncode == 0
    count = len(course.katas)
    assert f"{count} of {count} katas passed" in done.stdout
    assert "Every kata passes" in done.stdout


@pytest.mark.parametrize("kata", ["3", "03", "03_gather"])
def test_check_accepts_number_or_id(checker, kata: str) -> None:
    done = checker("check", kata, "--target", "solutions", "--json")
    assert done.returncode == 0, done.stdout
    report = done.json()
    assert [k["id"] for k in report["katas"]] == ["03_gather"]
    assert report["katas"][0]["status"] == "passed"


def test_options_may_come_before_the_command(checker) -> None:
    done = checker("--target", "solutions", "--json", "check", "1")
    assert done.returncode == 0, done.stderr
    assert done.json()["katas"][0]["id"] == "01_coroutines"


def test_check_shows_every_test_and_the_hints(checker) -> None:
    done = checker("check", "1")
    assert done.returncode == 1
    for name in ("test_greet_returns_the_greeting", "test_main_runs_greet_on_a_fresh_loop"):
        assert name in done.stdout
    assert "Hints" in done.stdout


def test_json_report_has_the_documented_shape(course) -> None:
    report = course.checker("--json").json()
    assert set(report) >= {"target", "passed", "total", "katas"}
    assert report["target"] == "katas"
    for kata in report["katas"]:
        assert set(kata) >= {"id", "title", "status", "passed", "total", "tests"}
        assert kata["status"] in {"passed", "failed", "not_started", "error", "timeout"}
        assert kata["total"] == len(kata["tests"])
        for test in kata["tests"]:
            assert set(test) >= {"name", "status", "message"}
            assert test["status"] in {"passed", "failed", "error", "timeout", "missing"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["check", "99"], "no kata '99'"),
        (["check", "nope"], "no kata 'nope'"),
        (["--target", "/no/such/folder"], "no such folder"),
        (["hint", "1", "9"], "hints 1 to"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_usage_exits_2_with_a_reason(checker, args: list[str], says: str) -> None:
    done = checker(*args)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_the_commands(checker) -> None:
    done = checker("--help")
    assert done.returncode == 0
    for command in ("check", "hint", "verify", "--target", "--json", "Exit codes"):
        assert command in done.stdout


def test_hints_go_from_nudge_to_answer(checker) -> None:
    first, second = checker("hint", "2"), checker("hint", "02_blocking", "2")
    assert first.returncode == second.returncode == 0
    assert "hint 1 of" in first.stdout and "hint 2 of" in second.stdout
    assert "python -m checker hint 02 2" in first.stdout


def test_a_submission_missing_files_is_an_error_not_a_crash(checker, tmp_path) -> None:
    (tmp_path / "02_blocking").mkdir()
    done = checker("check", "1", "2", "--target", str(tmp_path), "--json")
    assert done.returncode == 1, done.stderr
    katas = done.json()["katas"]
    assert {k["status"] for k in katas} == {"error"}
    assert all("does not exist" in k["message"] for k in katas)


def test_a_syntax_error_is_shown_with_file_and_line(checker, submission) -> None:
    done = checker("check", "1", "2", "--target", str(submission("syntax_error")))
    assert done.returncode == 1
    assert "coroutines.py (line 6)" in done.stdout
    assert "SyntaxError" in done.stdout
