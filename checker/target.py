"""pytest plugin: `--target` chooses where each kata's learner file is imported from.

The tests always come from `katas/`; only the learner modules are looked up in the
target (`katas`, `solutions` or any folder that mirrors `katas/`), so nothing is copied.
"""

from __future__ import annotations

import ast
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType

import pytest

from checker import globalstate, leftovers
from checker.katas import KataError, discover, resolve_target


@dataclass(frozen=True)
class ImportProblem:
    """Why a learner module failed to import, pointed at the learner's own line."""

    module: str
    exc_type: str
    message: str
    file: str
    line: int | None


# Called as listener(event, module, problem); the events plugin subscribes here.
ImportListener = Callable[[str, str, ImportProblem | None], None]
LISTENERS: list[ImportListener] = []


def _notify(event: str, module: str, problem: ImportProblem | None = None) -> None:
    for listener in LISTENERS:
        listener(event, module, problem)


def describe_import_error(module: str, file: Path, exc: BaseException) -> ImportProblem:
    line: int | None = None
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename) == file:
        line = exc.lineno
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename) == file:
                line = frame.lineno
    message = str(exc) if not isinstance(exc, SyntaxError) else (exc.msg or str(exc))
    return ImportProblem(module, type(exc).__name__, message, str(file), line)


class ImportSideEffects(ImportError):
    """Importing a learner file changed global state or left garbage; both were undone."""


class _LearnerLoader(importlib.machinery.SourceFileLoader):
    """Reports how the import of a learner file went, even for SystemExit or os._exit.

    What the import changes in shared state, or leaves for the garbage collector, is
    undone and charged to this file, not to whichever kata runs next.
    """

    def exec_module(self, module: ModuleType) -> None:
        from checker.isolation import explain_garbage, problems_since

        file = Path(self.path)
        _notify("import_start", self.name)
        gc.collect()  # what was garbage before belongs to someone else
        try:
            with leftovers.unraisables() as caught:
                before = globalstate.take()
                try:
                    super().exec_module(module)
                finally:
                    found = problems_since(before)  # undone even when the import failed
            if caught:
                found.append(explain_garbage(caught))
            if found:
                raise ImportSideEffects("\n".join(found))
        except BaseException as exc:
            _notify("import_error", self.name, describe_import_error(self.name, file, exc))
            raise
        _notify("import_done", self.name)


class _LearnerTestsLoader(_LearnerLoader):
    """A learner file that is itself a test module: its asserts are rewritten like pytest's,
    so a failing `assert a == b` in the learner's test says what the values were."""

    def get_code(self, fullname: str) -> CodeType:
        from _pytest.assertion.rewrite import rewrite_asserts

        source = self.get_data(self.path)
        tree = ast.parse(source, self.path)
        rewrite_asserts(tree, source, self.path)
        code: CodeType = compile(tree, self.path, "exec", dont_inherit=True)
        return code


class LearnerFinder(importlib.abc.MetaPathFinder):
    """Learner modules from the target; a kata's given modules from `katas/`."""

    def __init__(
        self,
        files: dict[str, Path],
        given: dict[str, Path] | None = None,
        test_modules: frozenset[str] = frozenset(),
    ) -> None:
        self.files = files
        self.given = given or {}
        self.test_modules = test_modules  # learner files that are test modules (testing katas)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            if fullname in self.given:
                return importlib.util.spec_from_file_location(fullname, self.given[fullname])
            return None
        if not file.is_file():
            raise ModuleNotFoundError(f"{file} does not exist", name=fullname)
        kind = _LearnerTestsLoader if fullname in self.test_modules else _LearnerLoader
        loader = kind(fullname, str(file))
        # From a file location, so the module gets __file__ and __cached__ like any import.
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


_FINDER_KEY = pytest.StashKey[LearnerFinder]()


def learner_files() -> list[Path]:
    """The learner files of the current run, for pointing tracebacks at them."""
    finders = [f for f in sys.meta_path if isinstance(f, LearnerFinder)]
    return [file for finder in finders for file in finder.files.values()]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        default="katas",
        help="where the learner files come from: katas (default), solutions, or a folder "
        "that mirrors katas/",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        target = resolve_target(config.getoption("target"))
        katas = discover()
    except KataError as exc:
        raise pytest.UsageError(str(exc)) from exc
    finder = LearnerFinder(
        {k.module: k.learner_file(target) for k in katas},
        {p.stem: p for k in katas for p in k.given_files},
        frozenset(k.module for k in katas if k.writes_tests),
    )
    config.stash[_FINDER_KEY] = finder
    sys.meta_path.insert(0, finder)


def pytest_unconfigure(config: pytest.Config) -> None:
    finder = config.stash.get(_FINDER_KEY, None)
    if finder is None:
        return
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    for name in [*finder.files, *finder.given]:
        sys.modules.pop(name, None)
