"""The end of the course: the last first pass shows the course-complete view."""

from __future__ import annotations

from rich.console import Console

from checker.commands import completes_course
from checker.katas import discover
from checker.progress import Progress
from checker.views import format_course_complete


def passed_all_but_last() -> Progress:
    katas = discover()
    return Progress(first_pass={k.id: "2026-11-01T10:00:00+00:00" for k in katas[:-1]})


def test_the_last_first_pass_completes_the_course() -> None:
    katas = discover()
    progress = passed_all_but_last()
    assert not completes_course([], progress, katas)
    progress.passed(katas[-1].id)
    assert completes_course([katas[-1].id], progress, katas)


def test_a_kata_still_missing_means_not_complete() -> None:
    katas = discover()
    progress = passed_all_but_last()
    assert not completes_course([katas[0].id], progress, katas)  # the last kata never passed


def test_course_complete_view_counts_katas_and_hints() -> None:
    katas = discover()
    progress = passed_all_but_last()
    progress.passed(katas[-1].id)
    progress.hints = {katas[0].id: 2, katas[1].id: 1}
    console = Console(record=True, width=80, color_system=None)
    console.print(format_course_complete(katas, progress))
    text = console.export_text()
    assert "Course complete!" in text
    assert f"All {len(katas)} katas pass, with 3 hints asked for in all." in text
    assert "First kata passed 2026-11-01" in text
