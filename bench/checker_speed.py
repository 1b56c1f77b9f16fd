"""Time `python -m checker --target solutions` against plain `pytest katas --target=solutions`.

Both run on the same machine in one go, alternating, so load affects them alike. Prints
both medians and their ratio (target: <= 1.5). A benchmark, not a test: nothing fails.

    python bench/checker_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "checker": [sys.executable, "-m", "checker", "--target", "solutions"],
    "checker --json": [sys.executable, "-m", "checker", "--target", "solutions", "--json"],
    "pytest": [sys.executable, "-m", "pytest", "katas", "--target=solutions", "-q"],
}


def time_once(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout.decode()[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="runs of each command (default 11)")
    args = parser.parse_args()
    for cmd in COMMANDS.values():  # warm the disk cache
        time_once(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, cmd in COMMANDS.items():
            times[name].append(time_once(cmd))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name:>15}: median {median:.3f} s over {args.runs} runs")
    for name in ("checker", "checker --json"):
        ratio = medians[name] / medians["pytest"]
        print(f"ratio {name} / pytest: {ratio:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
