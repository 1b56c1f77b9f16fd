"""Kata discovery, the README's set-up commands and CI agreeing with each other."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from checker.katas import KataError, discover, load_kata, resolve

ROOT = Path(__file__).resolve().parent.parent


def test_katas_are_numbered_in_order() -> None:
    katas = discover()
    assert [k.number for k in katas] == list(range(1, len(katas) + 1))
    assert len({k.module for k in katas}) == len(katas), "learner module names must be unique"


@pytest.mark.parametrize("arg", ["2", "02", "02_blocking"])
def test_resolve_by_number_or_id(arg: str) -> None:
    assert resolve(arg, discover()).id == "02_blocking"


@pytest.mark.parametrize("arg", ["0", "99", "blocking", ""])
def test_resolve_rejects_unknown_katas(arg: str) -> None:
    with pytest.raises(KataError, match="no kata"):
        resolve(arg, discover())


def test_expected_tests_come_from_the_source_not_an_import(tmp_path: Path) -> None:
    kata = tmp_path / "07_demo"
    kata.mkdir()
    (kata / "kata.toml").write_text(
        'title = "Demo"\ntopic = "asyncio"\nfile = "demo.py"\ndocs = "x"\nhints = ["a", "b"]\n'
    )
    (kata / "test_demo.py").write_text(
        "import this_module_does_not_exist\n"
        "def test_one(): pass\n"
        "async def test_two(): pass\n"
        "def helper(): pass\n"
        "class TestGroup:\n"
        "    def test_three(self): pass\n"
        "    def helper(self): pass\n"
        "class Other:\n"
        "    def test_ignored(self): pass\n"
    )
    assert load_kata(kata).expected_tests() == ["test_one", "test_two", "TestGroup::test_three"]


def test_kata_toml_problems_are_clear(tmp_path: Path) -> None:
    kata = tmp_path / "08_broken"
    kata.mkdir()
    (kata / "kata.toml").write_text('title = "Broken"\n')
    with pytest.raises(KataError, match="missing"):
        load_kata(kata)


def readme_command(marker: str) -> str:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(f"<!-- {marker} -->")
    return next(line for line in lines[start:] if line.startswith("python3 "))


def test_readme_has_two_setup_commands() -> None:
    learner, tests = readme_command("learner-command"), readme_command("test-command")
    assert learner.endswith("python -m checker")
    assert tests.endswith("python -m pytest tests")


def test_ci_runs_the_readme_test_command() -> None:
    done = subprocess.run(
        ["bash", ".ci/run", "--dry-run"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    command, *interpreters = done.stdout.strip().splitlines()
    assert command == readme_command("test-command")
    assert interpreters[0].startswith("# 3.11: ")  # required; 3.12 and 3.13 when found
