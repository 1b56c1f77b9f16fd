"""What a learner meets besides the verdict: hints kept back, progress, reset, solution,
list and goto, watch mode, and plain words for the classic mistakes."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from checker.files import reset
from checker.katas import load_kata

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    """An env that keeps progress in a file of this test's own."""
    return {"ASYNCKATA_STATE": str(tmp_path / "state.json")}


def test_check_shows_only_the_hints_asked_for(checker, python, state) -> None:
    kata = load_kata(ROOT / "katas" / "01_coroutines")
    fresh = python("-m", "checker", "check", "1", env=state)
    assert "No hints asked for yet" in fresh.stdout
    assert kata.hints[-1][:40] not in fresh.stdout.replace("\n", " ")
    first = python("-m", "checker", "hint", "1", env=state)
    second = python("-m", "checker", "hint", "1", env=state)
    assert "hint 1 of" in first.stdout and "hint 2 of" in second.stdout
    after = python("-m", "checker", "check", "1", env=state)
    assert f"Hint 3 of {len(kata.hints)}" in after.stdout


def test_a_repeated_message_is_shown_once(checker, submission) -> None:
    done = checker("check", "1", "--target", str(submission("wrong")))
    assert done.returncode == 1
    assert "more with the same message" in done.stdout or done.stdout.count("✘") <= 9


def test_legend_explains_the_symbols(course) -> None:
    done = course.checker()
    assert "✔ passed" in done.stdout and "still a TODO" in done.stdout


def test_goto_makes_a_kata_current(course, state) -> None:
    moved = course.checker("goto", "2", env=state)
    assert moved.returncode == 0 and "02" in moved.stdout
    status = course.checker(env=state)
    assert "Next up: 02" in status.stdout


def test_list_shows_every_kata_with_hints_used(course, state) -> None:
    done = course.checker("list", env=state)
    assert done.returncode == 1
    assert "Hints" in done.stdout and "01" in done.stdout and "goto" in done.stdout


def test_solution_is_kept_back_until_the_kata_passes(checker) -> None:
    hidden = checker("solution", "1")
    assert hidden.returncode == 1 and "--spoil" in hidden.stdout
    reference = (ROOT / "solutions" / "01_coroutines" / "coroutines.py").read_text()
    shown = checker("solution", "1", "--spoil")
    assert shown.returncode == 0
    assert "reference" in shown.stdout and "asyncio.run" in shown.stdout
    assert reference.splitlines()[0][:20] in shown.stdout


def test_reset_needs_a_yes_and_leaves_an_untouched_stub_alone(checker) -> None:
    before = (ROOT / "katas" / "01_coroutines" / "coroutines.py").read_bytes()
    refused = checker("reset", "1")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = checker("reset", "1", "--yes")
    assert done.returncode == 0 and "already the original" in done.stdout
    assert (ROOT / "katas" / "01_coroutines" / "coroutines.py").read_bytes() == before


def test_reset_restores_the_stub_and_keeps_a_named_backup(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(ROOT / "katas" / "01_coroutines", course / "katas" / "01_coroutines")
    git = ["git", "-C", str(course), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "course"], check=True)
    kata = load_kata(course / "katas" / "01_coroutines")
    file = course / "katas" / "01_coroutines" / "coroutines.py"
    stub = file.read_bytes()
    file.write_text("my work\n")
    done = reset(kata, now=datetime(2026, 11, 25, 9, 30, 0), root=course)
    assert file.read_bytes() == stub
    assert done.backup == file.with_name("coroutines.py.20261125-093000.bak")
    assert done.backup.read_text() == "my work\n"


def test_never_awaited_names_the_call_and_its_line(checker, submission) -> None:
    done = checker("check", "1", "--target", str(submission("forgot_await")), "--json")
    first = done.json()["katas"][0]["tests"][0]["message"]
    assert "`asyncio.sleep(...)` was called but never awaited (coroutines.py, line 4)" in first


def test_check_without_a_kata_says_what_is_missing(checker) -> None:
    done = checker("check")
    assert done.returncode == 2
    assert "KATA" in done.stderr and "usage: python -m checker check" in done.stderr


def read_until(lines: queue.Queue[str], mark: str, timeout: float) -> str:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if mark in line:
            return "".join(seen)
    raise AssertionError(f"no {mark!r} within {timeout} s; saw:\n{''.join(seen)[-3000:]}")


def test_watch_rechecks_on_save_and_moves_on(tmp_path: Path, state) -> None:
    target = tmp_path / "target"
    for kata in ("01_coroutines", "02_blocking"):
        shutil.copytree(ROOT / "solutions" / kata, target / kata)
    learner = target / "01_coroutines" / "coroutines.py"
    shutil.copyfile(ROOT / "tests" / "fixtures" / "learner" / "partial.py", learner)
    with subprocess.Popen(
        [sys.executable, "-m", "checker", "watch", "--target", str(target)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **state},
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = proc.stdout
        threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
        try:
            seen = read_until(lines, "Saving the file re-checks it", 120)
            assert "01 Coroutines" in seen
            time.sleep(0.5)  # the file watcher starts after the first screen
            shutil.copyfile(ROOT / "solutions" / "01_coroutines" / "coroutines.py", learner)
            seen = read_until(lines, "passes!", 120)
            assert "01_coroutines passes!" in seen
            proc.stdin.write("q\n")
            proc.stdin.flush()
            assert proc.wait(timeout=60) in (0, 1)
        finally:
            proc.kill()


def test_a_timeline_shows_what_ran_when_next_to_a_correct_version(checker, tmp_path) -> None:
    target = tmp_path / "submission"
    (target / "03_gather").mkdir(parents=True)
    shutil.copyfile(
        ROOT / "tests" / "mutants" / "03_gather" / "sequential_awaits.py",
        target / "03_gather" / "gather.py",
    )
    done = checker("check", "3", "--target", str(target), "--timeline")
    assert done.returncode == 1
    assert "what your code did" in done.stdout and "what a correct version does" in done.stdout
    assert "3–4s" in done.stdout  # fetch(2) only started once fetch(1) was done
