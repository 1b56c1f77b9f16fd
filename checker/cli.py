"""Command line: parse arguments, run the checks, print the result, pick the exit code.

Exit codes: 0 when every kata checked passed, 1 when any did not, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from checker.katas import Kata, KataError, discover, resolve, resolve_target, shown_path

EXIT_OK, EXIT_NOT_PASSED, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Check your asynckata progress. With no command, runs every kata and shows its state,
the tests passed, and the next kata to do, with its first failure and a hint.
"""
EPILOG = """\
KATA is a number (3, 03) or an id (03_gather).
Exit codes: 0 every kata checked passed, 1 some did not, 2 bad usage.
"""


def _add_common(parser: argparse.ArgumentParser, default: object) -> None:
    """--target and --json, accepted before or after the command.

    Each parser gets its own actions: argparse shares parent actions, and a subparser's
    defaults would otherwise overwrite what was given before the command.
    """
    parser.add_argument(
        "--target",
        default=default,
        help="where the learner files come from: katas (default), solutions, or a folder "
        "that mirrors katas/",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=default if default is argparse.SUPPRESS else False,
        help="print a JSON report on stdout instead of tables",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        type=memory_size,
        default=default,
        help="memory the tests may allocate, like 4G or 512M (default 4G); code that goes "
        "over fails its kata with a plain message",
    )


def memory_size(text: str) -> int:
    """`4G`, `512M`, `2.5G` or a number of bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    number, unit = text.strip().upper().removesuffix("B"), 1
    if number and number[-1] in units:
        number, unit = number[:-1], units[number[-1]]
    try:
        size = int(float(number) * unit)
    except ValueError:
        size = 0
    if size < 256 * 2**20:
        raise argparse.ArgumentTypeError(f"{text!r}: give a size of at least 256M, like 4G")
    return size


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m checker",
        usage=(
            "%(prog)s [--target TARGET] [--json] "
            "[check KATA [KATA ...] | hint KATA [N] | verify [KATA ...]]"
        ),
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, None)
    parser.set_defaults(command="status")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    check = sub.add_parser("check", help="katas in full: every test, its message and its output")
    check.add_argument(
        "katas", nargs="+", metavar="KATA", help="a number (3, 03) or an id (03_gather)"
    )
    hint = sub.add_parser(
        "hint", help="the Nth hint for a kata (1 = a nudge, last = nearly the answer)"
    )
    hint.add_argument("kata", help="a number (3, 03) or an id (03_gather)")
    hint.add_argument("number", nargs="?", type=int, default=1, help="which hint (default 1)")
    verify = sub.add_parser(
        "verify",
        help="authoring check: solutions and kept right answers pass, stubs are not started, "
        "mutants fail",
    )
    verify.add_argument(
        "katas", nargs="*", metavar="KATA", help="only these katas (default: every kata)"
    )
    for p in (check, verify):
        _add_common(p, argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        katas = discover()
        if args.command == "hint":
            return _hint(resolve(args.kata, katas), args.number)
        if args.command == "verify":
            from checker.verify import run_verify

            chosen = [resolve(arg, katas) for arg in args.katas] or katas
            return run_verify(chosen, as_json=args.json)
        target = resolve_target(args.target)
        chosen = [resolve(arg, katas) for arg in args.katas] if args.command == "check" else katas
    except KataError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _check(
        chosen,
        katas,
        target,
        detail=args.command == "check",
        as_json=args.json,
        memory_limit=args.memory_limit,
    )


def _check(
    chosen: list[Kata],
    katas: list[Kata],
    target: Path,
    *,
    detail: bool,
    as_json: bool,
    memory_limit: int | None,
) -> int:
    from checker.results import Report
    from checker.runner import MEMORY_LIMIT, check

    report = Report(_target_name(target), check(chosen, target, memory_limit or MEMORY_LIMIT))
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        from checker import render
        from checker.console import console

        by_id = {k.id: k for k in katas}
        if detail:
            for result in report.katas:
                console.print(render.format_kata(result, by_id[result.id]))
        else:
            console.print(render.format_report(report, by_id))
    return EXIT_OK if report.all_passed else EXIT_NOT_PASSED


def _hint(kata: Kata, number: int) -> int:
    from checker import render
    from checker.console import console

    if not 1 <= number <= len(kata.hints):
        print(
            f"python -m checker: error: {kata.id} has hints 1 to {len(kata.hints)}", file=sys.stderr
        )
        return EXIT_USAGE
    console.print(render.format_hint(kata, number))
    return EXIT_OK


def _target_name(target: Path) -> str:
    from checker.katas import KATAS_DIR, SOLUTIONS_DIR

    if target == KATAS_DIR:
        return "katas"
    if target == SOLUTIONS_DIR:
        return "solutions"
    return shown_path(target)
