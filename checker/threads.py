"""Which threads count as "left running" after learner code, including the hidden ones.

A thread started with `_thread.start_new_thread` is missing from `threading.enumerate()`;
`_thread._count()` still counts it. An idle worker of a long-lived `ThreadPoolExecutor`
(a module-level pool, a normal pattern in services) is not a leak: it waits for work.
"""

from __future__ import annotations

import _thread
import concurrent.futures.thread
import sys
import threading

_POOL_WORKER = concurrent.futures.thread._worker.__code__


def hidden_count() -> int:
    """Threads running that `threading` does not know about."""
    return int(_thread._count()) - (threading.active_count() - 1)


def is_idle_pool_worker(thread: threading.Thread) -> bool:
    """A ThreadPoolExecutor worker waiting for its next job (not running learner code)."""
    frame = sys._current_frames().get(thread.ident or -1)
    return frame is not None and frame.f_code is _POOL_WORKER


def busy_new_threads(known: set[threading.Thread]) -> list[threading.Thread]:
    """Threads started since `known` was taken that are still doing something."""
    return [
        t
        for t in threading.enumerate()
        if t not in known and t.is_alive() and not is_idle_pool_worker(t)
    ]
