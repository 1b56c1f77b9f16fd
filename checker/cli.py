"""Command line: parse arguments, run the checks, print the result, pick the exit code.

Exit codes: 0 when every kata checked passed, 1 when any did not, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys

from checker.commands import EXIT_USAGE
from checker.katas import KataError, discover, resolve, resolve_target
from checker.shard import Shard

DESCRIPTION = """\
Check your asynckata progress. With no command, runs every kata and shows its state,
the tests passed, and the next kata to do, with its first failure and a hint.
`watch` re-checks the current kata every time you save it.
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


def shard(text: str) -> Shard:
    """`2/3`: the second of three shares."""
    try:
        part, _, parts = text.partition("/")
        return Shard(int(part), int(parts))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}") from exc


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


KATA_HELP = "a number (3, 03) or an id (03_gather)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m checker",
        usage="%(prog)s [options] [COMMAND ...]",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common(parser, None)
    parser.add_argument(
        "--edit", action="store_true", help="open the next kata's file at its first problem"
    )
    parser.set_defaults(command="status")
    sub = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    def command(name: str, help: str, usage: str) -> argparse.ArgumentParser:
        prog = f"python -m checker {name}"
        return sub.add_parser(name, help=help, prog=prog, usage=f"%(prog)s {usage}".rstrip())

    watch = command("watch", "re-check the current kata on every save (keys: h l n e r q)", "")
    check = command("check", "katas in full: every test, its message and output", "KATA [KATA ...]")
    check.add_argument("katas", nargs="+", metavar="KATA", help=KATA_HELP)
    check.add_argument("--edit", action="store_true", help="open the file at its first problem")
    check.add_argument(
        "--timeline",
        action="store_true",
        help="draw what ran when in every test, next to what a correct version does",
    )
    hint = command("hint", "the next hint for a kata (or hint N: the Nth)", "KATA [N]")
    hint.add_argument("kata", help=KATA_HELP)
    hint.add_argument("number", nargs="?", type=int, help="which hint (default: the next one)")
    command("list", "every kata: state, topic, hints used", "")
    goto = command("goto", "make a kata the current one (watch and next-up follow it)", "KATA")
    goto.add_argument("kata", help=KATA_HELP)
    reset = command("reset", "put a kata's original stub back (yours is backed up)", "KATA | --all")
    reset.add_argument("kata", nargs="?", help=KATA_HELP)
    reset.add_argument("--all", action="store_true", help="every kata")
    reset.add_argument("--yes", action="store_true", help="don't ask for confirmation")
    solution = command("solution", "the reference solution, once your version passes", "KATA")
    solution.add_argument("kata", help=KATA_HELP)
    solution.add_argument("--spoil", action="store_true", help="show it even before you pass")
    verify = command(
        "verify",
        "authoring check: solutions and right answers pass, stubs not started, mutants fail",
        "[KATA ...] [--shard K/N]",
    )
    verify.add_argument("katas", nargs="*", metavar="KATA", help="only these (default: all)")
    verify.add_argument(
        "--shard",
        metavar="K/N",
        type=shard,
        default=None,
        help="run only every N-th mutant of each kata, starting at its K-th (solutions, stubs "
        "and right answers always run): N machines or Pythons share the mutants",
    )
    for p in (check, verify, watch):
        _add_common(p, argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    from checker import commands

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        katas = discover()
        if args.command == "verify":
            from checker.verify import run_verify

            chosen = [resolve(arg, katas) for arg in args.katas] or katas
            return run_verify(chosen, as_json=args.json, shard=args.shard)
        if args.command == "hint":
            return commands.hint(resolve(args.kata, katas), args.number)
        if args.command == "goto":
            return commands.goto(resolve(args.kata, katas))
        if args.command == "reset":
            if args.all == bool(args.kata):
                raise KataError("reset takes one KATA, or --all")
            chosen = katas if args.all else [resolve(args.kata, katas)]
            return commands.reset(chosen, assume_yes=args.yes)
        if args.command == "solution":
            return commands.solution(resolve(args.kata, katas), spoil=args.spoil)
        target = resolve_target(args.target)
        options = commands.RunOptions(
            target=target,
            as_json=args.json,
            memory_limit=args.memory_limit,
            edit=getattr(args, "edit", False),
            timeline=getattr(args, "timeline", False),
        )
        if args.command == "watch":
            from checker.watch import watch

            return watch(katas, options)
        if args.command == "list":
            return commands.list_katas(katas, options)
        chosen = [resolve(arg, katas) for arg in args.katas] if args.command == "check" else katas
    except KataError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "check":
        return commands.check_in_full(chosen, katas, options)
    return commands.status(katas, options)
