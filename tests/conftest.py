"""Helpers for the suite's own tests: run the checker as a learner would, on fixture trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # These tests start whole checker runs; the 3 s limit is for kata tests.
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(120))


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.stdout)
        return data


def run(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None
) -> Run:
    """Run this interpreter; progress goes nowhere unless `env` names a state file."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        input=stdin,
        env={**os.environ, "ASYNCKATA_STATE": os.devnull, **(env or {})},
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def python() -> Callable[..., Run]:
    """`python("-m", "pytest", ...)` runs this interpreter from the project root."""
    return run


@pytest.fixture
def checker() -> Callable[..., Run]:
    """`checker("--json")` runs `python -m checker --json` from the project root."""
    return lambda *args: run("-m", "checker", *args)


# A learner-file case needs its kata and a neighbour checked after it in the same run
# (to prove the mess stays in its kata), not the whole course.
CASE_KATAS = ("01_coroutines", "02_blocking")


def make_submission(target: Path, learner_fixture: str) -> Path:
    """At `target`: kata 01's file from fixtures/learner/, kata 02's reference solution."""
    for kata in CASE_KATAS:
        shutil.copytree(ROOT / "solutions" / kata, target / kata)
    shutil.copyfile(
        FIXTURES / "learner" / f"{learner_fixture}.py", target / "01_coroutines" / "coroutines.py"
    )
    return target


@pytest.fixture
def submission(tmp_path: Path) -> Callable[[str], Path]:
    """`submission("partial")`: kata 01's file from fixtures/learner/, kata 02 solved."""
    return lambda learner_fixture: make_submission(tmp_path / "submission", learner_fixture)


# A course of two katas: enough for what a view of the whole course does (next up, legend,
# list, goto, all passed), so those tests do not grow with the course. That every kata's
# solution passes and every stub reads as not started is verify's job.
MINI_KATAS = ("01_coroutines", "02_blocking")


@dataclass(frozen=True)
class Course:
    """A copy of the project with only some katas: the checker run inside finds only them."""

    root: Path
    katas: tuple[str, ...]

    def run(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return run(*args, cwd=self.root, env={"PYTHONPATH": str(self.root), **(env or {})})

    def checker(self, *args: str, env: dict[str, str] | None = None) -> Run:
        return self.run("-m", "checker", *args, env=env)


def make_course(root: Path, katas: tuple[str, ...] = MINI_KATAS) -> Course:
    shutil.copytree(
        ROOT / "checker", root / "checker", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copyfile(ROOT / "pyproject.toml", root / "pyproject.toml")
    (root / "katas").mkdir()
    shutil.copyfile(ROOT / "katas" / "conftest.py", root / "katas" / "conftest.py")
    for kata in katas:
        for tree in ("katas", "solutions"):
            shutil.copytree(ROOT / tree / kata, root / tree / kata)
    return Course(root, katas)


@pytest.fixture(scope="session")
def course(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """The project cut down to katas 01 and 02 (read-only: tests that write make their own)."""
    return make_course(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="session")
def suite() -> SimpleNamespace:
    """The helpers above, for module-scoped fixtures that cannot take function fixtures."""
    return SimpleNamespace(run=run, make_submission=make_submission, case_katas=CASE_KATAS)
