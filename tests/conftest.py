"""Helpers for the suite's own tests: run the checker as a learner would, on fixture trees."""

from __future__ import annotations

import json
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


def run(*args: str, cwd: Path = ROOT) -> Run:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, check=False
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


def make_submission(target: Path, learner_fixture: str) -> Path:
    """A copy of solutions/ at `target` with kata 01's learner file replaced by a fixture."""
    shutil.copytree(ROOT / "solutions", target)
    shutil.copyfile(
        FIXTURES / "learner" / f"{learner_fixture}.py", target / "01_coroutines" / "coroutines.py"
    )
    return target


@pytest.fixture
def submission(tmp_path: Path) -> Callable[[str], Path]:
    """`submission("partial")`: solutions/ with kata 01's file from fixtures/learner/."""
    return lambda learner_fixture: make_submission(tmp_path / "submission", learner_fixture)


@pytest.fixture(scope="session")
def suite() -> SimpleNamespace:
    """The helpers above, for module-scoped fixtures that cannot take function fixtures."""
    return SimpleNamespace(run=run, make_submission=make_submission)
