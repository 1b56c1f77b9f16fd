"""Kata discovery: every folder `katas/NN_name/` with a `kata.toml` is one kata.

Kept free of heavy imports: the pytest plugins and the CLI both load it.
"""

from __future__ import annotations

import ast
import functools
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

ROOT = Path(__file__).resolve().parent.parent
KATAS_DIR = ROOT / "katas"
SOLUTIONS_DIR = ROOT / "solutions"
MUTANTS_DIR = ROOT / "tests" / "mutants"
ALTERNATIVES_DIR = ROOT / "tests" / "alternatives"

_ID = re.compile(r"^(\d{2})_[a-z0-9_]+$")


class KataError(Exception):
    """A kata folder or a KATA argument that does not make sense; the message says why."""


@dataclass(frozen=True)
class Kata:
    id: str
    number: int
    title: str
    topic: str
    file: str
    docs: str
    hints: tuple[str, ...]
    path: Path

    @property
    def module(self) -> str:
        """The import name the tests use for the learner file."""
        return Path(self.file).stem

    @property
    def test_files(self) -> list[Path]:
        return sorted(self.path.glob("test_*.py"))

    @property
    def writes_tests(self) -> bool:
        """A testing kata: the learner's file is a test module, run against broken copies."""
        return self.file.endswith("_tests.py")

    @property
    def given_files(self) -> list[Path]:
        """Modules the kata hands over as they are (an app under test, its broken copies).

        Any other `.py` file in the kata folder: always imported from `katas/`, whatever
        the target, and pinned like the tests, since grading depends on them.
        """
        return sorted(
            p
            for p in self.path.glob("*.py")
            if not p.name.startswith("test_") and p.name not in (self.file, "conftest.py")
        )

    @property
    def spec_files(self) -> list[Path]:
        """What decides a verdict: the tests and the given modules."""
        return [*self.test_files, *self.given_files]

    def learner_file(self, target: Path) -> Path:
        return target / self.id / self.file

    def expected_tests(self) -> list[str]:
        """Test names the pristine test files define, in definition order.

        Read with `ast`, never imported, so learner code cannot change the list.
        A parametrized test counts once here; every instance of it must pass.
        """
        names: list[str] = []
        for test_file in self.test_files:
            tree = ast.parse(test_file.read_text(encoding="utf-8"), str(test_file))
            for node in tree.body:
                if _is_test_function(node):
                    names.append(node.name)
                elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                    names.extend(
                        f"{node.name}::{n.name}" for n in node.body if _is_test_function(n)
                    )
        return names

    def test_count(self) -> int:
        """How many tests a run of this kata makes, counting each parametrized case."""
        count = 0
        for test_file in self.test_files:
            tree = ast.parse(test_file.read_text(encoding="utf-8"), str(test_file))
            for node in ast.walk(tree):
                if _is_test_function(node) and node.name.startswith("test"):
                    count += _cases(node)
        return count


def _cases(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Cases of a parametrized test: the product of its literal lists (10 when unknown)."""
    cases = 1
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith("parametrize"):
            values = decorator.args[1] if len(decorator.args) > 1 else None
            cases *= len(values.elts) if isinstance(values, ast.List | ast.Tuple) else 10
    return cases


def _is_test_function(node: ast.AST) -> TypeGuard[ast.FunctionDef | ast.AsyncFunctionDef]:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")


def load_kata(path: Path) -> Kata:
    match = _ID.match(path.name)
    if not match:
        raise KataError(f"{path}: a kata folder is named like 01_coroutines")
    try:
        meta = tomllib.loads((path / "kata.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KataError(f"{path / 'kata.toml'}: {exc}") from exc
    missing = {"title", "topic", "file", "docs", "hints"} - meta.keys()
    if missing:
        raise KataError(f"{path / 'kata.toml'}: missing {', '.join(sorted(missing))}")
    return Kata(
        id=path.name,
        number=int(match.group(1)),
        title=meta["title"],
        topic=meta["topic"],
        file=meta["file"],
        docs=meta["docs"],
        hints=tuple(meta["hints"]),
        path=path,
    )


def discover(katas_dir: Path = KATAS_DIR) -> list[Kata]:
    """All katas in order of their number."""
    return list(_discover(katas_dir))


@functools.cache
def _discover(katas_dir: Path) -> tuple[Kata, ...]:
    """Read once per process: the pytest plugins and the CLI both ask, forks inherit it."""
    return tuple(load_kata(p) for p in sorted(katas_dir.iterdir()) if (p / "kata.toml").is_file())


def resolve(arg: str, katas: list[Kata]) -> Kata:
    """Find a kata by number (`3`, `03`) or id (`03_gather`)."""
    for kata in katas:
        if arg == kata.id or (arg.isdigit() and int(arg) == kata.number):
            return kata
    known = ", ".join(k.id for k in katas)
    raise KataError(f"no kata {arg!r}; try a number or one of: {known}")


def resolve_target(arg: str | None) -> Path:
    """`None` means the learner's own katas; `solutions` the references; else a folder."""
    if arg is None or arg == "katas":
        return KATAS_DIR
    if arg == "solutions":
        return SOLUTIONS_DIR
    path = Path(arg).expanduser().resolve()
    if not path.is_dir():
        raise KataError(f"--target {arg}: no such folder")
    return path


def shown_path(path: Path) -> str:
    """A path as the learner would type it: relative to where they are, if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
