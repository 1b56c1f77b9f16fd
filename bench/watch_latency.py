"""Save-to-screen latency of `python -m checker watch` (target: under 0.3 s).

Starts watch mode on a scratch copy of the solutions with kata 01 wrong, then saves
kata 01's file N times (two different wrong answers in turn, so it stays the current
kata) and times each save until watch prints the new result. Prints the median and
the spread. A benchmark, not a test: nothing fails.

    python bench/watch_latency.py [--saves N]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KATA = "01_coroutines"
FILE = "coroutines.py"
WRONG = ROOT / "tests" / "fixtures" / "learner" / "partial.py"
ALSO_WRONG = ROOT / "tests" / "fixtures" / "learner" / "wrong.py"
DONE_MARK = "Checked in"  # watch prints it after every re-check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=11, help="saves to time (default 11)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "target"
        for kata in sorted((ROOT / "solutions").iterdir()):
            if kata.is_dir():
                shutil.copytree(kata, target / kata.name)
        learner = target / KATA / FILE
        shutil.copyfile(WRONG, learner)
        env = {**os.environ, "ASYNCKATA_STATE": str(Path(tmp) / "state.json")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "checker", "watch", "--target", str(target)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(
            target=lambda: [lines.put(line) for line in proc.stdout], daemon=True
        ).start()
        _wait_for(lines, "asynckata watch", 120)
        time.sleep(0.5)  # let the file watcher settle
        times: list[float] = []
        checks: list[float] = []  # the part watch itself timed: fork, tests, grading
        for i in range(args.saves):
            source = ALSO_WRONG if i % 2 == 0 else WRONG
            _drain(lines)
            started = time.perf_counter()
            shutil.copyfile(source, learner)
            line = _wait_for(lines, DONE_MARK, 30)
            times.append(time.perf_counter() - started)
            checks.append(float(line.split(DONE_MARK)[1].split()[0]))
            time.sleep(0.3)
        assert proc.stdin is not None
        proc.stdin.write("q\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    print(
        f"save-to-screen: median {statistics.median(times):.3f} s over {len(times)} saves "
        f"(min {min(times):.3f}, max {max(times):.3f}); target < 0.3 s\n"
        f"  of which the check (fork, tests, grading): median {statistics.median(checks):.3f} s"
    )


def _drain(lines: queue.Queue[str]) -> None:
    while not lines.empty():
        lines.get_nowait()


def _wait_for(lines: queue.Queue[str], marks: str | tuple[str, ...], timeout: float) -> str:
    marks = (marks,) if isinstance(marks, str) else marks
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.05)
        except queue.Empty:
            continue
        if any(mark in line for mark in marks):
            return line
    sys.exit(f"watch did not print {marks} within {timeout} s")


if __name__ == "__main__":
    main()
