"""What a check found, as plain data: statuses, per-test and per-kata results, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Span:
    """One call in a test's timeline, in event-loop seconds from the first start."""

    name: str
    start: float
    end: float | None  # None: still running when the test ended


class TestStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    MISSING = "missing"


class KataStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_STARTED = "not_started"
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class

    name: str
    status: TestStatus
    message: str = ""
    output: str = ""
    duration: float = 0.0
    not_implemented: bool = False
    line: int | None = None  # the learner-file line the failure points at, when known
    timeline: list[Span] = field(default_factory=list)  # what ran when, if the test drew it

    @property
    def passed(self) -> bool:
        return self.status is TestStatus.PASSED


@dataclass
class KataResult:
    id: str
    number: int
    title: str
    status: KataStatus
    tests: list[TestResult] = field(default_factory=list)
    message: str = ""  # why the kata as a whole failed to run (import error, crash)
    file: str = ""  # the learner file, as shown to the learner
    line: int | None = None  # where in it the problem is, when known

    @property
    def passed_count(self) -> int:
        return sum(t.passed for t in self.tests)

    @property
    def duration(self) -> float:
        return sum(t.duration for t in self.tests)

    def first_problem(self) -> TestResult | None:
        return next((t for t in self.tests if not t.passed), None)


@dataclass
class Report:
    target: str
    katas: list[KataResult]

    @property
    def passed(self) -> int:
        return sum(k.status is KataStatus.PASSED for k in self.katas)

    @property
    def total(self) -> int:
        return len(self.katas)

    @property
    def all_passed(self) -> bool:
        return self.passed == self.total

    def next_up(self) -> KataResult | None:
        return next((k for k in self.katas if k.status is not KataStatus.PASSED), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "passed": self.passed,
            "total": self.total,
            "katas": [
                {
                    "id": k.id,
                    "title": k.title,
                    "status": str(k.status),
                    "passed": k.passed_count,
                    "total": len(k.tests),
                    "message": k.message,
                    "file": k.file,
                    "line": k.line,
                    "tests": [
                        {"name": t.name, "status": str(t.status), "message": t.message}
                        for t in k.tests
                    ],
                }
                for k in self.katas
            ],
        }


@dataclass
class Finding:
    """One expectation about one file, and whether it held."""

    kata: str
    file: str
    expected: str
    got: str
    ok: bool
    detail: str = ""
