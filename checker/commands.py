"""What each command does: run checks, keep progress, print through rich.

cli.py parses arguments and picks one of these; render.py and views.py only format.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from checker.katas import KATAS_DIR, SOLUTIONS_DIR, Kata, shown_path
from checker.progress import Progress
from checker.results import KataResult, KataStatus, Report, Span

EXIT_OK, EXIT_NOT_PASSED, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class RunOptions:
    target: Path
    as_json: bool = False
    memory_limit: int | None = None
    edit: bool = False
    timeline: bool = False  # check: draw every timeline next to the reference solution's

    @property
    def own_katas(self) -> bool:
        """Checking the learner's own files: progress is recorded only then."""
        return self.target == KATAS_DIR


def run_report(chosen: list[Kata], options: RunOptions) -> Report:
    from checker.runner import MEMORY_LIMIT, check

    results = check(chosen, options.target, options.memory_limit or MEMORY_LIMIT)
    return Report(target_name(options.target), results)


def target_name(target: Path) -> str:
    if target == KATAS_DIR:
        return "katas"
    if target == SOLUTIONS_DIR:
        return "solutions"
    return shown_path(target)


def record_passes(report: Report, progress: Progress) -> list[str]:
    """Note first passes; returns the katas that passed for the first time now."""
    return [k.id for k in report.katas if k.status is KataStatus.PASSED and progress.passed(k.id)]


def completes_course(newly: list[str], progress: Progress, katas: list[Kata]) -> bool:
    """This run passed a kata for the first time, and now every kata has passed once.

    How `check 31` on the last kata finds out the course is done without re-running all.
    """
    return bool(newly) and all(k.id in progress.first_pass for k in katas)


def next_up(report: Report, progress: Progress) -> KataResult | None:
    """The kata chosen with `goto` while it is not passed, else the first not passed."""
    chosen = next((k for k in report.katas if k.id == progress.current), None)
    if chosen is not None and chosen.status is not KataStatus.PASSED:
        return chosen
    return report.next_up()


def status(katas: list[Kata], options: RunOptions) -> int:
    from checker import render, views
    from checker.console import console

    report = run_report(katas, options)
    if options.as_json:
        print(json.dumps(report.to_json(), indent=2))
        return exit_code(report)
    by_id = {k.id: k for k in katas}
    progress = Progress.load() if options.own_katas else Progress()
    nxt = next_up(report, progress)
    if nxt is not None:
        progress.saw_hint(nxt.id, 1)  # the next-up panel shows the first hint
    newly = record_passes(report, progress)
    console.print(
        render.format_report(report, by_id, nxt, progress.hints_seen(nxt.id) if nxt else 1)
    )
    if options.own_katas and report.all_passed and newly:
        console.print(views.format_course_complete(katas, progress))
    if options.own_katas:
        progress.save()
    if options.edit and nxt is not None:
        edit(nxt, by_id[nxt.id], options.target)
    return exit_code(report)


def check_in_full(chosen: list[Kata], katas: list[Kata], options: RunOptions) -> int:
    from checker import render_kata, views
    from checker.console import console

    report = run_report(chosen, options)
    if options.as_json:
        print(json.dumps(report.to_json(), indent=2))
        return exit_code(report)
    progress = Progress.load() if options.own_katas else Progress()
    newly = record_passes(report, progress)
    by_id = {k.id: k for k in katas}
    references = reference_timelines(chosen) if options.timeline else {}
    for result in report.katas:
        later = [k for k in katas if k.number > result.number]
        seen = progress.hints_seen(result.id)
        reference = references.get(result.id, {}) if options.timeline else None
        nxt = later[0] if later else None
        console.print(render_kata.format_kata(result, by_id[result.id], seen, nxt, reference))
    if options.own_katas and completes_course(newly, progress, katas):
        console.print(views.format_course_complete(katas, progress))
    if options.own_katas:
        progress.save()
    if options.edit:
        first = next((r for r in report.katas if r.status is not KataStatus.PASSED), None)
        if first is not None:
            edit(first, by_id[first.id], options.target)
    return exit_code(report)


def reference_timelines(chosen: list[Kata]) -> dict[str, dict[str, list[Span]]]:
    """Kata id -> test name -> what the reference solution's run drew."""
    report = run_report(chosen, RunOptions(SOLUTIONS_DIR))
    return {r.id: {t.name: t.timeline for t in r.tests if t.timeline} for r in report.katas}


def exit_code(report: Report) -> int:
    return EXIT_OK if report.all_passed else EXIT_NOT_PASSED


def edit(result: KataResult, kata: Kata, target: Path) -> None:
    from checker.console import console
    from checker.files import open_in_editor

    problem = result.first_problem()
    line = result.line or (problem.line if problem else None)
    if said := open_in_editor(kata.learner_file(target), line):
        console.print(said, style="yellow")


def hint(kata: Kata, number: int | None) -> int:
    from checker import render_kata
    from checker.console import console

    progress = Progress.load()
    total = len(kata.hints)
    number = number if number is not None else min(progress.hints_seen(kata.id) + 1, total)
    if not 1 <= number <= total:
        print(f"python -m checker: error: {kata.id} has hints 1 to {total}", file=sys.stderr)
        return EXIT_USAGE
    progress.saw_hint(kata.id, number)
    progress.save()
    console.print(render_kata.format_hint(kata, number))
    return EXIT_OK


def goto(kata: Kata) -> int:
    from checker.console import console

    progress = Progress.load()
    progress.current = kata.id
    progress.save()
    console.print(
        f"Current kata: {kata.number:02d} {kata.title}. `python -m checker` and `watch` "
        f"now start there. Edit {shown_path(kata.path / kata.file)}."
    )
    return EXIT_OK


def list_katas(katas: list[Kata], options: RunOptions) -> int:
    from checker import views
    from checker.console import console

    report = run_report(katas, options)
    progress = Progress.load() if options.own_katas else Progress()
    record_passes(report, progress)
    if options.own_katas:
        progress.save()
    if options.as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        nxt = next_up(report, progress)
        console.print(views.format_list(report, katas, progress, nxt.id if nxt else ""))
    return exit_code(report)


def reset(chosen: list[Kata], *, assume_yes: bool) -> int:
    from checker.console import console
    from checker.files import ResetError
    from checker.files import reset as reset_file

    names = ", ".join(k.id for k in chosen)
    if not assume_yes:
        if not sys.stdin.isatty():
            print(
                f"python -m checker: error: reset {names} needs a yes: run it in a terminal, "
                "or add --yes",
                file=sys.stderr,
            )
            return EXIT_USAGE
        answer = input(f"Put the original stub back for {names}? Your version is kept. [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            console.print("Nothing changed.")
            return EXIT_OK
    for kata in chosen:
        try:
            done = reset_file(kata)
        except ResetError as exc:
            print(f"python -m checker: error: {exc}", file=sys.stderr)
            return EXIT_NOT_PASSED
        if done.backup is None:
            console.print(f"{kata.id}: already the original stub; nothing to do.")
        else:
            console.print(
                f"{kata.id}: original stub restored in {shown_path(done.file)}; "
                f"your version is kept as {shown_path(done.backup)}"
            )
    return EXIT_OK


def solution(kata: Kata, *, spoil: bool) -> int:
    from checker import views
    from checker.console import console

    mine = kata.learner_file(KATAS_DIR)
    if not spoil:
        passed = run_report([kata], RunOptions(KATAS_DIR)).katas[0].status is KataStatus.PASSED
        if not passed:
            console.print(
                f"{kata.id} does not pass yet, so its solution stays hidden: finish it first "
                f"(`python -m checker check {kata.number:02d}`), or add --spoil to see it now."
            )
            return EXIT_NOT_PASSED
    reference = kata.learner_file(SOLUTIONS_DIR)
    if not reference.is_file():
        print(f"python -m checker: error: no reference solution for {kata.id}", file=sys.stderr)
        return EXIT_NOT_PASSED
    yours = mine.read_text(encoding="utf-8", errors="replace") if mine.is_file() else ""
    text = reference.read_text(encoding="utf-8")
    console.print(views.format_solution(kata, yours, text, console.width))
    return EXIT_OK
