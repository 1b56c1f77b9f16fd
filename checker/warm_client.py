"""The runner's side of the warm test process (warm.py): start it, fork a run, stop it.

Watch mode uses one so that a check costs a fork, not a new interpreter; verify uses two
for its hundreds of runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from checker.katas import ROOT, Kata
from checker.runner import RunOutcome, make_request, outcome_of, pycache_dir


class WarmServer:
    """The warm test process, and `launch` for runner.check that forks it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "checker.warm"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "PYTHONPYCACHEPREFIX": str(pycache_dir()),  # see runner.make_request
                "PYTHONDONTWRITEBYTECODE": "",
            },
            text=True,
            start_new_session=True,
        )
        self._expect("ready")

    def _expect(self, key: str) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the warm test process stopped")
        answer: dict[str, object] = json.loads(line)
        if key not in answer:
            raise RuntimeError(f"unexpected answer from the warm test process: {line!r}")
        return answer

    def launch(
        self,
        katas: list[Kata],
        target: Path,
        memory_limit: int,
        first_failure_only: bool = False,
    ) -> RunOutcome:
        """Like runner.run_pytest, in a fork of the warm process: no start-up to pay."""
        assert self.proc.stdin is not None
        with tempfile.TemporaryDirectory(prefix="asynckata-") as tmp:
            request = make_request(katas, target, memory_limit, Path(tmp), first_failure_only)
            line = {
                # Plugins were imported before pytest could rewrite their asserts: expected.
                "args": [*request.args, "-W", "ignore::pytest.PytestAssertRewriteWarning"],
                "env": request.env,
                "cwd": str(request.cwd),
                "events": str(request.events),
                "log": str(request.log),
                "budget": request.budget,
            }
            self.proc.stdin.write(json.dumps(line) + "\n")
            self.proc.stdin.flush()
            answer = self._expect("returncode")
            code = answer["returncode"]
            return outcome_of(
                request, code if isinstance(code, int) else None, bool(answer["killed"])
            )

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> WarmServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
