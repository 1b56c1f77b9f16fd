"""Flake gate: every verdict must be the same on every run, even with every core busy.

Runs `python -m checker verify --json` and `python -m checker --target solutions --json`
N times (default 20) while one CPU hog per core spins, and fails (exit 1) if any verdict
differs from the first run's or any run fails. Every new kata must pass it.

    python bench/flake_gate.py [--runs N] [--no-hogs] [KATA ...]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def hog(stop: Any) -> None:
    """Keep one core busy until told to stop."""
    n = 0
    while not stop.is_set():
        for _ in range(100_000):
            n += 1


def verdicts(args: list[str]) -> tuple[dict[str, str], str]:
    """Each finding's or kata's verdict from one checker run; and why it failed, if it did."""
    done = subprocess.run(
        [sys.executable, "-m", "checker", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return {}, f"no JSON (exit {done.returncode}): {done.stderr[-500:]}"
    if "findings" in report:  # verify
        findings = report["findings"]
        found = {f"{f['kata']} {f['file']}": str(f["ok"]) for f in findings}
        failed = [f"{f['kata']} {f['file']}: {f['detail'][:200]}" for f in findings if not f["ok"]]
        return found, "; ".join(failed)
    found = {k["id"]: k["status"] for k in report["katas"]}
    bad = [f"{k['id']}: {k['status']}" for k in report["katas"] if k["status"] != "passed"]
    return found, "; ".join(bad)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="rounds (default 20)")
    parser.add_argument("--no-hogs", action="store_true", help="don't load the CPUs")
    parser.add_argument("katas", nargs="*", metavar="KATA", help="only these katas")
    args = parser.parse_args()
    commands = {
        "verify": ["verify", *args.katas],
        "solutions": ["--target", "solutions", *(["check", *args.katas] if args.katas else [])],
    }
    stop = multiprocessing.Event()
    hogs = (
        []
        if args.no_hogs
        else [
            multiprocessing.Process(target=hog, args=(stop,), daemon=True)
            for _ in range(os.cpu_count() or 1)
        ]
    )
    for process in hogs:
        process.start()
    first: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    started = time.monotonic()
    try:
        for round_no in range(1, args.runs + 1):
            for name, command in commands.items():
                got, failure = verdicts(command)
                if failure:
                    problems.append(f"round {round_no} {name}: {failure}")
                first.setdefault(name, got)
                changed = {
                    k for k in first[name].keys() | got.keys() if first[name].get(k) != got.get(k)
                }
                if changed:
                    problems.append(
                        f"round {round_no} {name}: verdict changed for {sorted(changed)}"
                    )
            print(f"round {round_no}/{args.runs}: {len(problems)} problem(s) so far", flush=True)
    finally:
        stop.set()
        for process in hogs:
            process.join(timeout=5)
    elapsed = time.monotonic() - started
    checks = sum(len(v) for v in first.values())
    print(f"{args.runs} rounds x {checks} verdicts with {len(hogs)} CPU hogs in {elapsed:.0f} s")
    for problem in problems:
        print("FLAKE:", problem)
    print("flake gate:", "FAILED" if problems else "passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
