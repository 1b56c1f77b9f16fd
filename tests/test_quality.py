"""ruff and mypy, so that CI enforces the code style the README promises."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "command",
    [
        ["-m", "ruff", "check", "."],
        ["-m", "ruff", "format", "--check", "."],
        ["-m", "mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_code_is_clean(python, command: list[str]) -> None:
    done = python(*command)
    assert done.returncode == 0, done.stdout + done.stderr
