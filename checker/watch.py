"""`python -m checker watch`: re-check the current kata every time its file is saved.

A warm test process (warm.py) keeps pytest and the heavy imports loaded, so a check is a
fork, not a new interpreter. File events are debounced by watchfiles and ignored while a
check runs. Keys: h hint, l list, n next kata, e editor, r (or Enter) re-run, q quit.
Without a terminal, the same keys are read one per line (handy for scripts and tests).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from checker.commands import EXIT_NOT_PASSED, EXIT_OK, RunOptions, edit, next_up, record_passes
from checker.katas import Kata
from checker.progress import Progress
from checker.results import KataResult, KataStatus, Report
from checker.runner import MEMORY_LIMIT, check
from checker.warm_client import WarmServer

DEBOUNCE_MS = 50  # at most this long to gather the events of one save
QUIET_MS = 20  # ... and a save is over once the files were quiet this long


@dataclass
class Event:
    kind: str  # "change" or "key"
    key: str = ""
    paths: frozenset[str] = frozenset()  # "change": the files that changed


def _watch_files(paths: list[Path], events: queue.Queue[Event], stop: threading.Event) -> None:
    from watchfiles import PythonFilter, watch

    force_polling = bool(os.environ.get("ASYNCKATA_WATCH_POLL"))
    for changes in watch(
        *paths,
        watch_filter=PythonFilter(),
        debounce=DEBOUNCE_MS,
        step=QUIET_MS,
        stop_event=stop,
        force_polling=force_polling,
        rust_timeout=200,
        yield_on_timeout=False,
    ):
        events.put(Event("change", paths=frozenset(path for _, path in changes)))


def _read_keys(events: queue.Queue[Event]) -> None:
    """Single keys from a terminal (raw mode), else one key per line."""
    if sys.stdin.isatty():
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while True:
                char = sys.stdin.read(1)
                if not char:
                    break
                events.put(Event("key", char))
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    else:
        for line in sys.stdin:
            events.put(Event("key", line.strip()[:1] or "\n"))
    events.put(Event("key", "q"))


class Watcher:
    def __init__(self, katas: list[Kata], options: RunOptions) -> None:
        self.katas = katas
        self.by_id = {k.id: k for k in katas}
        self.options = options
        self.progress = Progress.load() if options.own_katas else Progress()
        self.server = WarmServer()
        self.results: dict[str, KataResult] = {}
        self.current: Kata | None = None

    def run_check(self, chosen: list[Kata]) -> Report:
        results = check(
            chosen,
            self.options.target,
            self.options.memory_limit or MEMORY_LIMIT,
            launch=self.server.launch,
        )
        self.results.update({r.id: r for r in results})
        report = Report("katas", [self.results[k.id] for k in self.katas if k.id in self.results])
        record_passes(report, self.progress)
        if self.options.own_katas:
            self.progress.save()
        return report

    def choose_current(self) -> None:
        report = Report("katas", [self.results[k.id] for k in self.katas])
        nxt = next_up(report, self.progress)
        self.current = self.by_id[nxt.id] if nxt else None

    def show(self, note: str = "") -> None:
        from checker import render_kata, views
        from checker.console import console

        console.clear()
        passed = sum(r.status is KataStatus.PASSED for r in self.results.values())
        console.print(f"[bold]asynckata watch[/] · {passed} of {len(self.katas)} katas passed")
        if self.current is None:
            console.print(views.format_course_complete(self.katas, self.progress))
        else:
            kata = self.current
            seen = self.progress.hints_seen(kata.id)
            console.print(render_kata.format_kata(self.results[kata.id], kata, seen))
        if note:
            console.print(note, style="yellow")
        console.print(
            "[dim]Saving the file re-checks it · h hint · l list · n next kata · "
            "e editor · r re-run · q quit[/]"
        )

    def recheck(self, paths: frozenset[str] = frozenset()) -> str:
        """Re-check the kata whose file was saved (else the current one); move on if it passes."""
        saved = [
            k for k in self.katas if str(k.learner_file(self.options.target).resolve()) in paths
        ]
        if saved:
            self.current = saved[0]
        if self.current is None:
            return ""
        kata = self.current
        started = time.monotonic()
        result = self.run_check([kata]).katas
        took = time.monotonic() - started
        mine = next(r for r in result if r.id == kata.id)
        note = f"Checked in {took:.2f} s."
        if mine.status is KataStatus.PASSED:
            self.choose_current()
            if self.current is None:  # the last one: check everything again
                self.run_check(self.katas)
                self.choose_current()
            if self.current is not None:
                note = f"{kata.id} passes! On to {self.current.id}."
        return note

    def handle_key(self, key: str) -> tuple[bool, str]:
        """Returns (keep going, note to show)."""
        from checker import render_kata, views
        from checker.console import console

        if key in ("q", "\x03", "\x04"):
            return False, ""
        if key in ("r", "\n", "\r", " "):
            return True, self.recheck()
        if self.current is None:
            return True, ""
        kata = self.current
        if key == "h":
            number = min(self.progress.hints_seen(kata.id) + 1, len(kata.hints))
            self.progress.saw_hint(kata.id, number)
            if self.options.own_katas:
                self.progress.save()
            self.show()
            console.print(render_kata.format_hint(kata, number))
            return True, "\x00"  # already shown
        if key == "l":
            self.show()
            report = Report("katas", [self.results[k.id] for k in self.katas])
            console.print(views.format_list(report, self.katas, self.progress, kata.id))
            return True, "\x00"
        if key == "n":
            later = [k for k in self.katas if k.number > kata.number] or self.katas
            self.current = later[0]
            self.progress.current = self.current.id
            return True, self.recheck() or f"Now on {self.current.id}."
        if key == "e":
            edit(self.results[kata.id], kata, self.options.target)
            return True, ""
        return True, f"Unknown key {key!r}."

    def loop(self) -> int:
        self.run_check(self.katas)
        self.choose_current()
        self.show()
        events: queue.Queue[Event] = queue.Queue()
        stop = threading.Event()
        folders = [self.options.target]  # every kata's folder, whichever file is saved
        threading.Thread(target=_watch_files, args=(folders, events, stop), daemon=True).start()
        threading.Thread(target=_read_keys, args=(events,), daemon=True).start()
        try:
            while True:
                event = events.get()
                if event.kind == "change":
                    note = self.recheck(event.paths)
                    _drain_changes(events)  # saves during the check are covered by it
                    self.show(note)
                    continue
                going, note = self.handle_key(event.key)
                if not going:
                    break
                if note != "\x00":
                    self.show(note)
        finally:
            stop.set()
            self.server.close()
        return (
            EXIT_OK
            if all(r.status is KataStatus.PASSED for r in self.results.values())
            else EXIT_NOT_PASSED
        )


def _drain_changes(events: queue.Queue[Event]) -> None:
    keys = []
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            break
        if event.kind == "key":
            keys.append(event)
    for key in keys:
        events.put(key)


def watch(katas: list[Kata], options: RunOptions) -> int:
    return Watcher(katas, options).loop()
