"""Pure formatting for `list`, `solution` and the course-complete summary."""

from __future__ import annotations

from datetime import datetime

from rich.columns import Columns
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from checker.katas import Kata
from checker.progress import Progress
from checker.render import format_legend, format_status
from checker.results import Report

SIDE_BY_SIDE_WIDTH = 160  # columns needed to show two files next to each other


def format_list(report: Report, katas: list[Kata], progress: Progress, current: str) -> Group:
    table = Table(title=f"asynckata · {report.target}", title_justify="left")
    for column in ("", "#", "Kata", "Topic", "State", "Tests", "Hints"):
        table.add_column(column)
    results = {r.id: r for r in report.katas}
    for kata in katas:
        result = results[kata.id]
        table.add_row(
            "▶" if kata.id == current else "",
            f"{kata.number:02d}",
            kata.title,
            kata.topic,
            format_status(result.status),
            f"{result.passed_count}/{len(result.tests)}",
            f"{progress.hints_seen(kata.id)}/{len(kata.hints)}",
        )
    tip = Text("▶ current kata · jump to another with `python -m checker goto N`", style="dim")
    return Group(table, format_legend(), tip)


def format_solution(kata: Kata, yours: str, reference: str, width: int = 0) -> RenderableType:
    """The reference, highlighted, beside (or after) the learner's own version."""
    mine = Panel(
        Syntax(yours or "# (empty)", "python", line_numbers=True),
        title=f"yours: {kata.file}",
        title_align="left",
    )
    ref = Panel(
        Syntax(reference, "python", line_numbers=True),
        title=f"reference: {kata.file}",
        title_align="left",
        border_style="green",
    )
    if width >= SIDE_BY_SIDE_WIDTH:
        return Columns([mine, ref], equal=True, expand=True)
    return Group(mine, ref)


def format_course_complete(katas: list[Kata], progress: Progress) -> Panel:
    times = sorted(progress.first_pass.values())
    hints = sum(progress.hints_seen(k.id) for k in katas)
    body = Text("Course complete! ", style="bold green")
    body.append(f"All {len(katas)} katas pass, with {hints} hints asked for in all.")
    if times:
        start, end = datetime.fromisoformat(times[0]), datetime.fromisoformat(times[-1])
        body.append(f"\nFirst kata passed {start:%Y-%m-%d}, last {end:%Y-%m-%d}.")
    body.append("\nSee the reference answers with `python -m checker solution N`.", style="dim")
    return Panel(body, border_style="green")
