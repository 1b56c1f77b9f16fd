"""Katas where the learner writes the tests: run them against a correct implementation and a
gallery of broken ones, in one pytest session, and grade what they caught.

A testing kata's pinned test file builds a `Gallery`, imports the learner's tests and
fixtures into itself (`globals().update(gallery.learner_tests(module))`), defines the
gallery's fixture (which parametrises every learner test that uses it, once per
implementation) and then its own verdict tests, which run last and read what happened:

    gallery = Gallery("app", Implementation("correct", "", create_app), bugs=[...])
    globals().update(gallery.learner_tests(orders_tests))
    app = gallery.fixture()

    def test_your_tests_are_written() -> None:
        gallery.check_written()
    ...

A bug counts as caught by a test only when that test passed on the correct
implementation and failed on the broken one (a TODO is never a catch). Each learner test
gets a fresh object from the implementation, so nothing one test does reaches another;
a patch or `dependency_overrides` entry left behind is undone and reported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from types import ModuleType
from typing import Any
from unittest import mock

import pytest

CORRECT = "correct"

# The gallery of every module that has one, by module name (the plugin finds items' here).
GALLERIES: dict[str, Gallery] = {}


@dataclass(frozen=True)
class Implementation:
    """One thing under test: the correct one, or a realistic bug said in a learner's words."""

    id: str
    description: str  # "POST /orders accepts a negative quantity"; "" for the correct one
    build: Callable[[], Any]  # a fresh object under test, one per learner test


class Outcome(Enum):
    PASSED = "passed"
    FAILED = "failed"
    TODO = "todo"  # raised NotImplementedError: the stub, not a real failure


@dataclass
class Run:
    """One learner test against one implementation."""

    test: str
    case: tuple[tuple[str, str], ...]  # the test's other parameters, if any (name, repr)
    implementation: str  # "" when the test does not use the gallery's fixture
    outcome: Outcome = Outcome.PASSED
    message: str = ""


@dataclass
class Gallery:
    fixture_name: str
    correct: Implementation
    bugs: list[Implementation]
    module: str = ""  # the pinned test module that holds it
    learner_names: list[str] = field(default_factory=list)  # tests imported from the learner
    runs: list[Run] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    shadowed: bool = False  # the learner's file defines a fixture of the gallery's name
    passed_on_correct: set[tuple[str, tuple[tuple[str, str], ...]]] = field(default_factory=set)
    caught: set[str] = field(default_factory=set)  # bugs some learner test already caught

    @property
    def bug_ids(self) -> list[str]:
        return [bug.id for bug in self.bugs]

    # -- building the module -----------------------------------------------------------
    def learner_tests(self, module: ModuleType) -> dict[str, Any]:
        """The learner's tests and fixtures, to be put into the pinned test module."""
        caller = inspect.currentframe()
        assert caller is not None and caller.f_back is not None
        self.module = caller.f_back.f_globals["__name__"]
        GALLERIES[self.module] = self
        chosen: dict[str, Any] = {}
        for name, value in vars(module).items():
            if name == self.fixture_name:
                continue  # the gallery's own fixture wins; check_written says so
            is_test = name.startswith(("test", "Test")) and (
                inspect.isfunction(value) or inspect.isclass(value)
            )
            if is_test or _is_fixture(value):
                chosen[name] = value
                if is_test:
                    self.learner_names.append(name)
        self.shadowed = self.fixture_name in vars(module)
        return chosen

    def fixture(self) -> Any:
        """The fixture that hands each learner test a fresh correct or broken object."""
        params = [pytest.param(self.correct, id=CORRECT)] + [
            pytest.param(
                bug,
                id=bug.id,
                marks=[
                    pytest.mark.xfail(reason=f"a broken version: {bug.description}"),
                    pytest.mark.probe,
                ],
            )
            for bug in self.bugs
        ]

        def under_test(request: pytest.FixtureRequest) -> Iterator[Any]:
            implementation: Implementation = request.param
            if implementation.id in self.caught:
                # One catch is enough: a big parametrized suite times every broken copy
                # would cost far more than the kata's other tests.
                pytest.skip(f"already caught: {implementation.description}")
            active = set(map(id, mock._patch._active_patches))  # type: ignore[attr-defined]
            thing = implementation.build()
            yield thing
            left = []
            if getattr(thing, "dependency_overrides", None):
                left.append("an entry in app.dependency_overrides")
                thing.dependency_overrides.clear()
            stray = [p for p in mock._patch._active_patches if id(p) not in active]  # type: ignore[attr-defined]
            for patcher in stray:
                left.append(f"a patch of `{patcher.attribute}`, started and never stopped")
                patcher.stop()
            if left and implementation.id == CORRECT:
                name = request.node.originalname
                self.leftovers.append(f"{name} left something behind: {' and '.join(left)}")

        under_test.__name__ = self.fixture_name
        return pytest.fixture(params=params, name=self.fixture_name)(under_test)

    # -- what the plugin records ---------------------------------------------------------
    def record(self, item: pytest.Item, outcome: Outcome, message: str) -> None:
        name = getattr(item, "originalname", item.name)
        cls = getattr(item, "cls", None)
        if cls is not None:  # a method of a learner's Test class
            if cls.__name__ not in self.learner_names:
                return
            name = f"{cls.__name__}::{name}"
        elif name not in self.learner_names:
            return
        callspec = getattr(item, "callspec", None)
        implementation = ""
        case: tuple[tuple[str, str], ...] = ()
        if callspec is not None:
            if self.fixture_name in callspec.params:
                implementation = callspec.params[self.fixture_name].id
            case = tuple(
                sorted((k, repr(v)) for k, v in callspec.params.items() if k != self.fixture_name)
            )
        self.runs.append(Run(name, case, implementation, outcome, message))
        if implementation == CORRECT and outcome is Outcome.PASSED:
            self.passed_on_correct.add((name, case))
        elif implementation not in (CORRECT, "") and outcome is Outcome.FAILED:
            if (name, case) in self.passed_on_correct:
                self.caught.add(implementation)  # later probes of this bug are skipped

    # -- the verdicts, called by the pinned test module's own tests ---------------------
    def check_written(self) -> None:
        if self.shadowed:
            pytest.fail(
                f"Your file defines its own `{self.fixture_name}`, but the grader provides that "
                f"fixture (it swaps in broken versions through it): rename yours.",
                pytrace=False,
            )
        if not self.learner_names:
            pytest.fail(
                "Your file has no tests yet: write functions whose names start with `test_`.",
                pytrace=False,
            )
        todo = next((r for r in self.runs if r.outcome is Outcome.TODO), None)
        if todo is not None:  # the stub: read as "not started", naming the first TODO
            raise NotImplementedError(todo.message or todo.test)
        using = {r.test for r in self.runs if r.implementation}
        if not using:
            pytest.fail(
                f"None of your tests uses the `{self.fixture_name}` fixture, so the grader "
                f"cannot run them against the broken versions. Take `{self.fixture_name}` as a "
                "parameter, in each test or in a fixture of yours that the tests use.",
                pytrace=False,
            )

    def check_correct(self) -> None:
        self.check_written()
        wrong = [
            r
            for r in self.runs
            if r.implementation in (CORRECT, "") and r.outcome is not Outcome.PASSED
        ]
        if wrong:
            first = wrong[0]
            others = sorted({r.test for r in wrong} - {first.test})
            also = f"\n(also failing on the correct version: {', '.join(others)})" if others else ""
            pytest.fail(
                f"{first.test} fails on the correct version, so it is the test that is wrong:\n"
                f"{first.message}{also}",
                pytrace=False,
            )

    def check_caught(self, bug_id: str) -> None:
        self.check_written()
        bug = next(b for b in self.bugs if b.id == bug_id)
        # A case (a test, with its other parameters) that fails on the correct version
        # catches nothing: only a failure where the correct version passed counts.
        bad_on_correct = {
            (r.test, r.case)
            for r in self.runs
            if r.implementation == CORRECT and r.outcome is not Outcome.PASSED
        }
        ran_on_correct = {(r.test, r.case) for r in self.runs if r.implementation == CORRECT}
        catchers = [
            r.test
            for r in self.runs
            if r.implementation == bug_id
            and r.outcome is Outcome.FAILED
            and (r.test, r.case) in ran_on_correct - bad_on_correct
        ]
        if not catchers:
            pytest.fail(f"Your tests let this bug through: {bug.description}.", pytrace=False)

    def check_clean(self) -> None:
        self.check_written()
        if self.leftovers:
            pytest.fail(
                f"{self.leftovers[0]}. Undo what a test changes when it ends: a fixture with "
                "`yield` (or `with patch(...)`), so no other test sees it.",
                pytrace=False,
            )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "probe: a learner's test run against a broken version (failing catches it)"
    )


def _cut(text: str, limit: int = 700) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_fixture(value: object) -> bool:
    return type(value).__name__ == "FixtureFunctionDefinition"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    gallery = GALLERIES.get(getattr(getattr(item, "module", None), "__name__", ""))
    if gallery is None:
        return report
    failed = call.excinfo is not None and not isinstance(call.excinfo.value, pytest.skip.Exception)
    if call.when == "call" or failed:
        if failed:
            assert call.excinfo is not None
            exc = call.excinfo.value
            if isinstance(exc, NotImplementedError):
                outcome, message = Outcome.TODO, str(exc)
            else:
                outcome, message = Outcome.FAILED, _cut(f"{type(exc).__name__}: {exc}")
        else:
            outcome, message = Outcome.PASSED, ""
        gallery.record(item, outcome, message)
    return report
