"""Process-wide state that learner code can change by accident, and putting it back.

A learner module that patches `asyncio.sleep`, installs a loop policy, replaces
`sys.stdout` or sets a trace function would otherwise break every kata after it. The
isolation plugin takes a `Snapshot` before learner code runs and, afterwards, restores it
and names what changed so that the change is charged to the code that made it.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.events
import asyncio.runners
import asyncio.tasks
import builtins
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

# Modules whose attributes a learner might reassign (`asyncio.sleep = ...`).
WATCHED_MODULES: tuple[ModuleType, ...] = (
    asyncio,
    asyncio.tasks,
    asyncio.events,
    asyncio.base_events,
    asyncio.runners,
    time,
    builtins,
)
_IGNORED_ATTRIBUTES = {
    ("builtins", "_"),  # the interactive "last result"
    ("asyncio.events", "_event_loop_policy"),  # compared as the policy, below
}

# sys attributes a learner might replace; each is put back as it was.
WATCHED_SYS = ("stdout", "stderr", "stdin", "excepthook", "unraisablehook", "breakpointhook")


def _signals() -> list[signal.Signals]:
    found: list[signal.Signals] = []
    for sig in signal.valid_signals():
        # SIGALRM belongs to pytest-timeout, which sets it for every test and puts it back.
        if isinstance(sig, signal.Signals) and sig not in (
            signal.SIGKILL,
            signal.SIGSTOP,
            signal.SIGALRM,
        ):
            found.append(sig)
    return found


_SIGNALS = _signals()


@dataclass
class Snapshot:
    """What `take()` saw; `changes()` compares, `restore()` puts it back."""

    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    sys_attrs: dict[str, Any] = field(default_factory=dict)
    handlers: dict[signal.Signals, Any] = field(default_factory=dict)
    policy: Any = None
    loop: Any = None  # the policy's current event loop, as set with set_event_loop
    trace: Any = None
    profile: Any = None
    thread_trace: Any = None
    thread_profile: Any = None
    cwd: str = ""
    meta_path: list[Any] = field(default_factory=list)


def take() -> Snapshot:
    _policy()  # asyncio creates it lazily: a first use must not read as a change
    snap = Snapshot()
    for module in WATCHED_MODULES:
        snap.modules[module.__name__] = dict(vars(module))
    snap.sys_attrs = {name: getattr(sys, name, None) for name in WATCHED_SYS}
    for sig in _SIGNALS:
        try:
            snap.handlers[sig] = signal.getsignal(sig)
        except (OSError, ValueError):  # pragma: no cover - platform specific
            continue
    snap.policy = getattr(asyncio.events, "_event_loop_policy", None)
    snap.loop = current_loop()
    snap.trace, snap.profile = sys.gettrace(), sys.getprofile()
    snap.thread_trace = getattr(threading, "_trace_hook", None)
    snap.thread_profile = getattr(threading, "_profile_hook", None)
    snap.cwd = _cwd()
    snap.meta_path = list(sys.meta_path)
    return snap


def _policy() -> asyncio.AbstractEventLoopPolicy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the policy API, from 3.14 on
        return asyncio.get_event_loop_policy()


def current_loop() -> asyncio.AbstractEventLoop | None:
    """The loop set for this thread, read without creating one."""
    local = getattr(_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def no_implicit_loop() -> None:
    """Make `get_event_loop()` raise instead of creating a loop nobody closes.

    Plugins (looptime) ask for the current loop even in sync tests; on an unset policy
    that creates a loop, which would then read as one the learner left open.
    """
    if current_loop() is None:
        _policy().set_event_loop(None)


def _cwd() -> str:
    try:
        return os.getcwd()
    except OSError:  # the folder was deleted under us
        return ""


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs, in words a learner recognises (`asyncio.sleep was replaced`)."""
    found: list[str] = []
    for name, old in before.modules.items():
        new = after.modules.get(name, {})
        for attr in sorted(old.keys() | new.keys()):
            if (name, attr) in _IGNORED_ATTRIBUTES or attr.startswith("__"):
                continue
            if attr not in new:
                found.append(f"{name}.{attr} was deleted")
            elif attr not in old:
                found.append(f"{name}.{attr} was added")
            elif new[attr] is not old[attr]:
                found.append(f"{name}.{attr} was replaced")
    for attr, old in before.sys_attrs.items():
        if after.sys_attrs.get(attr) is not old:
            found.append(f"sys.{attr} was replaced")
    for sig, old in before.handlers.items():
        if after.handlers.get(sig) != old:
            found.append(f"the {sig.name} signal handler was changed")
    if after.policy is not before.policy:
        found.append("the asyncio event loop policy was changed")
    elif after.loop is not before.loop and after.loop is not None and not after.loop.is_closed():
        found.append(
            "an event loop was left open as the current loop (an asyncio.Runner or "
            "new_event_loop() that was never closed)"
        )
    if after.trace is not before.trace or after.thread_trace is not before.thread_trace:
        found.append("a trace function was set (sys.settrace, used by debuggers)")
    if after.profile is not before.profile or after.thread_profile is not before.thread_profile:
        found.append("a profile function was set (sys.setprofile)")
    if after.cwd != before.cwd:
        found.append(f"the working directory was changed (os.chdir to {after.cwd!r})")
    if after.meta_path != before.meta_path:
        found.append("sys.meta_path (how Python finds modules) was changed")
    return found


def restore(snap: Snapshot) -> None:
    """Put back everything `take()` saw. Best effort: one failure does not stop the rest."""
    for module in WATCHED_MODULES:
        saved = snap.modules.get(module.__name__)
        if saved is None:
            continue
        current = vars(module)
        for attr in list(current):
            if attr not in saved and not attr.startswith("__"):
                _quietly(delattr, module, attr)
        for attr, value in saved.items():
            if current.get(attr, _MISSING) is not value:
                _quietly(setattr, module, attr, value)
    for attr, value in snap.sys_attrs.items():
        if value is not None:
            _quietly(setattr, sys, attr, value)
    for sig, handler in snap.handlers.items():
        if handler is not None and signal.getsignal(sig) != handler:
            _quietly(signal.signal, sig, handler)
    if hasattr(asyncio.events, "_event_loop_policy"):
        asyncio.events._event_loop_policy = snap.policy
    if current_loop() is not snap.loop:
        _quietly(_policy().set_event_loop, snap.loop)
    sys.settrace(snap.trace)
    sys.setprofile(snap.profile)
    threading.settrace(snap.thread_trace)
    threading.setprofile(snap.thread_profile)
    if snap.cwd and _cwd() != snap.cwd:
        _quietly(os.chdir, snap.cwd)
    if sys.meta_path != snap.meta_path:
        sys.meta_path[:] = snap.meta_path


_MISSING = object()


def _quietly(action: Callable[..., object], *args: Any) -> None:
    try:
        action(*args)
    except Exception:  # restoring is best effort; the change is reported anyway
        pass
