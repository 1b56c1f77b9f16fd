"""Pure formatting of one kata in full: its tests, grouped messages, timelines, hints."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from checker.katas import Kata
from checker.render import (
    OUTPUT_SHOWN,
    format_problem,
    format_status,
    format_test_message,
    lesson_path,
    test_symbol,
    visible,
)
from checker.results import KataResult, KataStatus, Span, TestResult


def format_kata(
    result: KataResult,
    kata: Kata,
    hints_seen: int = 0,
    next_kata: Kata | None = None,
    reference: dict[str, list[Span]] | None = None,
) -> Group:
    """One kata in full: every test, each distinct message once, the hints asked for.

    `reference` (test name -> spans) draws every timeline next to a correct version's.
    """
    head = Text()
    head.append(f"{kata.number:02d} {kata.title}  ", style="bold")
    head.append_text(format_status(result.status))
    head.append(f"   {result.passed_count}/{len(result.tests)} tests\n", style="dim")
    head.append(
        f"Edit: {visible(result.file)}   Lesson: {lesson_path(kata)}/README.md   Docs: {kata.docs}",
        style="dim",
    )
    parts: list[RenderableType] = [head]
    if result.message:
        parts.append(
            Panel(format_problem(result), title="Problem", border_style="red", title_align="left")
        )
    parts.extend(format_tests(result.tests, reference))
    if result.status is KataStatus.PASSED:
        after = (
            f"Next: python -m checker check {next_kata.number:02d} ({next_kata.title})"
            if next_kata
            else "That was the last kata."
        )
        parts.append(Text(f"Passed. {after}", style="bold green"))
    elif kata.hints:
        parts.append(format_hints_seen(kata, hints_seen))
    return Group(*parts)


def format_tests(
    tests: list[TestResult], reference: dict[str, list[Span]] | None = None
) -> list[RenderableType]:
    """Passed tests as one line each; failures grouped so that each message shows once.

    With `reference` (check --timeline), passed tests that drew a timeline show it too.
    """
    order: list[TestResult | tuple[str, str, str]] = []
    groups: dict[tuple[str, str, str], list[TestResult]] = {}
    for test in tests:
        if test.passed:
            order.append(test)
            continue
        key = (format_test_message(test), test.output, test_symbol(test)[0])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(test)
    shown: list[RenderableType] = []
    for item in order:
        if not isinstance(item, TestResult):
            shown.append(format_test_group(groups[item], reference))
        elif reference is not None and item.timeline:
            shown.append(format_test_group([item], reference))
        else:
            shown.append(Text(f"✔ {item.name}", style="green"))
    return shown


TIMELINE_WIDTH = 40  # characters for the longest span


def timeline_end(spans: list[Span]) -> float:
    return max((s.end if s.end is not None else s.start for s in spans), default=0.0) or 1.0


def format_timeline(spans: list[Span], title: str, end: float | None = None) -> Group:
    """A row per call, a bar over event-loop time: concurrency at a glance.

    `end`: the time the full width stands for, so two timelines drawn together share a scale.
    """
    end = end or timeline_end(spans)
    label = f"{end:g} s"
    table = Table.grid(padding=(0, 1))
    table.add_row(Text(), Text(f"0 {'─' * max(TIMELINE_WIDTH - 3 - len(label), 1)} {label}"))
    for span in spans:
        first = round(span.start / end * TIMELINE_WIDTH)
        if span.end is None:
            bar = " " * first + "▶" * max(TIMELINE_WIDTH - first, 1)
            when = f"{span.start:g}s → never finished"
        else:
            last = max(round(span.end / end * TIMELINE_WIDTH), first + 1)
            bar = " " * first + "█" * (last - first)
            when = f"{span.start:g}–{span.end:g}s"
        table.add_row(Text(visible(span.name)), Text(bar, style="cyan"), Text(when, style="dim"))
    return Group(Text(title, style="bold"), table)


def format_test_group(
    tests: list[TestResult], reference: dict[str, list[Span]] | None = None
) -> RenderableType:
    """Tests that failed with the same message: the message once, every test named.

    `reference`: test name -> the reference solution's timeline, drawn under the learner's.
    """
    reference = reference or {}
    test = tests[0]
    symbol, style = test_symbol(test)
    title = Text(f"{symbol} {test.name}", style=style)
    if len(tests) > 1:
        title.append(f"  (+{len(tests) - 1} more with the same message)", style="dim")
    body = Text(format_test_message(test))
    if len(tests) > 1:
        body.append("\n\nThe same for:\n", style="dim bold")
        body.append("\n".join(f"{symbol} {t.name}" for t in tests[1:]), style="dim")
    if test.output.strip():
        shown = test.output
        if len(shown) > OUTPUT_SHOWN:
            more = len(shown) - OUTPUT_SHOWN
            shown = shown[:OUTPUT_SHOWN] + f"\n... ({more} more characters)"
        body.append("\n\nIt printed:\n", style="dim bold")
        body.append(visible(shown), style="dim")
    parts: list[RenderableType] = [body]
    if test.timeline:
        correct = reference.get(test.name, [])
        end = max(timeline_end(test.timeline), timeline_end(correct) if correct else 0.0)
        parts.append(Text())
        parts.append(format_timeline(test.timeline, "what your code did", end))
        if correct:
            parts.append(format_timeline(correct, "what a correct version does", end))
    return Panel(Group(*parts), title=title, title_align="left", border_style=style)


def format_hints_seen(kata: Kata, seen: int) -> Panel:
    """Only the hints the learner asked for, and how to get the next one."""
    hints = Text()
    for i, hint in enumerate(kata.hints[:seen], 1):
        hints.append(f"{i}. ", style="bold yellow")
        hints.append(hint + "\n")
    total = len(kata.hints)
    if seen < total:
        first = "No hints asked for yet. " if seen == 0 else ""
        hints.append(
            f"{first}Hint {seen + 1} of {total}: python -m checker hint {kata.number:02d}",
            style="dim",
        )
    else:
        hints.append("That was the last hint.", style="dim")
    return Panel(hints, title="Hints", title_align="left", border_style="yellow")


def format_hint(kata: Kata, number: int) -> Panel:
    total = len(kata.hints)
    text = Text(kata.hints[number - 1])
    if number < total:
        text.append(
            f"\n\nStill stuck? python -m checker hint {kata.number:02d} {number + 1}", style="dim"
        )
    return Panel(
        text,
        title=f"{kata.number:02d} {kata.title} · hint {number} of {total}",
        title_align="left",
        border_style="yellow",
    )
