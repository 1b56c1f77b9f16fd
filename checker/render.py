"""Pure formatting: results in, rich renderables out. Nothing here prints or runs tests."""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from checker.katas import Kata, shown_path
from checker.results import (
    Finding,
    KataResult,
    KataStatus,
    Report,
    TestResult,
    TestStatus,
)

KATA_STYLE: dict[KataStatus, tuple[str, str]] = {
    KataStatus.PASSED: ("✔ passed", "green"),
    KataStatus.FAILED: ("✘ failed", "red"),
    KataStatus.NOT_STARTED: ("· not started", "dim"),
    KataStatus.ERROR: ("! error", "bold red"),
    KataStatus.TIMEOUT: ("⧗ timeout", "magenta"),
}
TEST_STYLE: dict[TestStatus, tuple[str, str]] = {
    TestStatus.PASSED: ("✔", "green"),
    TestStatus.FAILED: ("✘", "red"),
    TestStatus.ERROR: ("!", "bold red"),
    TestStatus.TIMEOUT: ("⧗", "magenta"),
    TestStatus.MISSING: ("?", "yellow"),
}
TODO_SYMBOL = ("·", "dim")  # a test that only met a TODO of the stub
LEGEND = "✔ passed   ✘ failed   ! error   ⧗ timeout   ? did not run   · still a TODO"
OUTPUT_SHOWN = 1000  # characters of a test's printed output in `check`

# Every control character but newline and tab, shown as an escape instead of obeyed, so
# learner output cannot clear the screen, recolour it or set the terminal's title.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Learner-made text, safe for a terminal: control characters escaped (ESC -> \\x1b)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def format_status(status: KataStatus) -> Text:
    label, style = KATA_STYLE[status]
    return Text(label, style=style)


def format_test_message(test: TestResult) -> str:
    """A test's failure in plain words; a stub's NotImplementedError reads as a TODO."""
    if test.not_implemented:
        what = visible(test.message.removeprefix("NotImplementedError").lstrip(": ").split("\n")[0])
        return (
            f"`{what}` is still a TODO (it raises NotImplementedError): fill it in."
            if what
            else "Still a TODO: your code raises NotImplementedError."
        )
    return visible(test.message)


def format_overview(report: Report) -> Table:
    table = Table(title=f"asynckata · {report.target}", title_justify="left", expand=False)
    table.add_column("#", justify="right", style="bold")
    table.add_column("Kata")
    table.add_column("State")
    table.add_column("Tests", justify="right")
    table.add_column("Time", justify="right", style="dim")
    for k in report.katas:
        table.add_row(
            f"{k.number:02d}",
            k.title,
            format_status(k.status),
            f"{k.passed_count}/{len(k.tests)}",
            f"{k.duration:.2f}s",
        )
    return table


def format_legend() -> Text:
    return Text(LEGEND, style="dim")


def test_symbol(test: TestResult) -> tuple[str, str]:
    return TODO_SYMBOL if test.not_implemented else TEST_STYLE[test.status]


def format_progress(report: Report) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        ProgressBar(total=max(report.total, 1), completed=report.passed, width=40),
        Text(f"{report.passed} of {report.total} katas passed", style="bold"),
    )
    return grid


def format_problem(result: KataResult) -> Text:
    """The first thing to fix in a kata: its load error, or its first failing test."""
    text = Text()
    if result.message:
        where = f" (line {result.line})" if result.line else ""
        text.append(f"{visible(result.file)}{where}\n", style="bold")
        text.append(visible(result.message))
        return text
    test = result.first_problem()
    if test is None:
        return text
    text.append(f"{test_symbol(test)[0]} {test.name}\n", style="bold")
    text.append(format_test_message(test))
    return text


def format_next_up(result: KataResult, kata: Kata, hints_seen: int = 1) -> Panel:
    body = Text()
    body.append("Edit:   ", style="bold")
    body.append(f"{visible(result.file)}\n")
    body.append("Lesson: ", style="bold")
    body.append(f"{lesson_path(kata)}/README.md\n\n")
    body.append_text(format_problem(result))
    if kata.hints:
        body.append("\n\nHint: ", style="bold yellow")
        body.append(kata.hints[0])
    more = f"\n\nMore: python -m checker check {kata.number:02d}"
    if max(hints_seen, 1) < len(kata.hints):
        more += f"   ·   next hint: python -m checker hint {kata.number:02d}"
    body.append(more, style="dim")
    return Panel(
        body,
        title=f"Next up: {kata.number:02d} {kata.title}",
        title_align="left",
        border_style="cyan",
    )


def format_all_done(report: Report) -> Panel:
    against = "" if report.target == "katas" else f" against {report.target}"
    return Panel(
        Text(f"Every kata passes{against}. Well done!", style="bold green"),
        border_style="green",
    )


def format_report(
    report: Report, katas: dict[str, Kata], nxt: KataResult | None = None, hints_seen: int = 1
) -> Group:
    """The overview; `nxt` is the kata to show next (default: the first not passed)."""
    parts: list[RenderableType] = [
        format_overview(report),
        format_legend(),
        format_progress(report),
    ]
    nxt = nxt or report.next_up()
    parts.append(format_next_up(nxt, katas[nxt.id], hints_seen) if nxt else format_all_done(report))
    return Group(*parts)


def lesson_path(kata: Kata) -> str:
    return shown_path(kata.path)


def format_verify(findings: list[Finding]) -> Group:
    """Every expectation that failed, then a one-line verdict."""
    bad = [f for f in findings if not f.ok]
    table = Table(title="verify: problems", title_justify="left")
    for column in ("Kata", "File", "Expected", "Got", "Why"):
        table.add_column(column, overflow="fold")
    for f in bad:
        table.add_row(f.kata, f.file, f.expected, Text(f.got, style="red"), visible(f.detail))
    ran = len(findings)
    if bad:
        verdict = Text(f"✘ {len(bad)} of {ran} checks failed", style="bold red")
        return Group(table, verdict)
    return Group(
        Text(
            f"✔ all {ran} checks hold: solutions and right answers pass, stubs are not started, "
            "every mutant fails",
            style="bold green",
        )
    )
