"""No process that learner code starts outlives a check.

`killpg` ends the test process's group, but a child started with
`start_new_session=True`, or a daemon that calls `setsid`, leaves the group. On Linux the
checker makes itself a *child subreaper*: such orphans are re-parented to the checker
instead of to init, so after every run `sweep` finds each process whose parent is the
checker and that is not a test process of ours, and kills it with everything under it.
Elsewhere (macOS) this is best effort: only the process group is ended.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")

_lock = threading.Lock()
_ours: set[int] = set()  # test processes running now, in any thread of the checker
_enabled = False


def enable() -> bool:
    """Become a child subreaper (Linux); returns whether orphans now come to us."""
    global _enabled
    if _enabled or not sys.platform.startswith("linux"):
        return _enabled
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _enabled = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _enabled = False
    return _enabled


def track(pid: int) -> None:
    with _lock:
        _ours.add(pid)


def untrack(pid: int) -> None:
    with _lock:
        _ours.discard(pid)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process we can see."""
    found: dict[int, int] = {}
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) >= 2:
            found[int(entry.name)] = int(fields[1])
    return found


def _subtree(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    order, todo = [], [root]
    while todo:
        pid = todo.pop()
        order.append(pid)
        todo.extend(children.get(pid, []))
    return order


def sweep(rounds: int = 20) -> list[int]:
    """Kill every stray child of the checker and all below it; returns what was killed."""
    if not _enabled:
        return []
    me, killed = os.getpid(), []
    for _ in range(rounds):
        parents = _parents()
        with _lock:
            strays = [pid for pid, ppid in parents.items() if ppid == me and pid not in _ours]
        if not strays:
            break
        for stray in strays:
            for pid in _subtree(stray, parents):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                os.waitpid(stray, 0)  # ours to reap; its children come to us next round
            except ChildProcessError:
                pass
    return killed
