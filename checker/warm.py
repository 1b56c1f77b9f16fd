"""A warm test process for watch mode: pytest and the heavy imports loaded once.

`python -m checker.warm` reads one JSON `RunRequest` per line on stdin. For each it forks
a child in a new session that runs `pytest.main(...)` (so nothing is imported again),
watches it exactly like a fresh process (runner.watch_process), sweeps strays, and
answers one JSON line `{"returncode": ..., "killed": ...}`. Learner code only ever runs
in the fork, so the warm process itself stays clean.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path

# Imported once here, so that a fork does not pay for them (handbook §4, §8).
WARM_IMPORTS = (
    "pytest",
    "pytest_asyncio",
    "pytest_timeout",
    "looptime",
    "httpx",
    "fastapi",
    "asgi_lifespan",
    "sqlalchemy.ext.asyncio",
    "aiosqlite",
    "redis.asyncio",
    "fakeredis",
    "checker.plugin",
    "checker.target",
    "checker.isolation",
)


def _warm_up() -> None:
    from _pytest.config import default_plugins

    # pytest imports its built-in plugins in every session: import them here, once.
    for name in (*WARM_IMPORTS, *(f"_pytest.{plugin}" for plugin in default_plugins)):
        try:
            importlib.import_module(name)
        except ImportError:  # optional for some katas: the fork imports what it needs
            pass
    try:  # FastAPI imports more on its first route (its pydantic compatibility layer)
        from fastapi import FastAPI

        FastAPI().get("/")(lambda: None)
    except ImportError:
        pass
    from checker.katas import discover

    discover()  # reads every kata.toml once, before the forks
    gc.collect()
    gc.freeze()  # keep start-up objects out of every later collection, and pages shared


def _child(request: dict[str, object]) -> None:
    """In the fork: become the test process the runner would have started."""
    os.setsid()
    log = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.chdir(str(request["cwd"]))
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    code = 3
    try:
        import pytest

        code = int(pytest.main([str(a) for a in list(request["args"])]))  # type: ignore[call-overload]
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    from checker import reaper
    from checker.runner import RunRequest
    from checker.watchdog import watch_process

    reaper.enable()
    _warm_up()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        status: list[int] = []

        def poll(pid: int = pid, status: list[int] = status) -> int | None:
            if status:
                return status[0]
            done, code = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                return None
            status.append(os.waitstatus_to_exitcode(code))
            return status[0]

        def kill(pid: int = pid, status: list[int] = status) -> None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if not status:
                status.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))

        run = RunRequest(
            args=request["args"],
            env=request["env"],
            cwd=Path(request["cwd"]),
            events=Path(request["events"]),
            log=Path(request["log"]),
            budget=float(request["budget"]),
        )
        reaper.track(pid)
        killed = watch_process(poll, kill, run)
        reaper.untrack(pid)
        reaper.sweep()
        print(json.dumps({"returncode": poll(), "killed": killed}), flush=True)


if __name__ == "__main__":
    serve()
