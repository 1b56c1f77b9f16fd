"""The learner's progress between runs: current kata, hints asked, first-pass times.

A small JSON file outside the project (never among the learner's files), one per
checkout: `$ASYNCKATA_STATE`, or `$XDG_STATE_HOME/asynckata/<checkout>.json`
(`~/.local/state/...` by default). A missing or unreadable file means a fresh start.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from checker.katas import ROOT

ENV_VAR = "ASYNCKATA_STATE"


def state_path() -> Path:
    if explicit := os.environ.get(ENV_VAR):
        return Path(explicit)
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return base / "asynckata" / f"{ROOT.name}-{checkout}.json"


@dataclass
class Progress:
    current: str = ""  # a kata id chosen with `goto`, or "" for the first not passed
    hints: dict[str, int] = field(default_factory=dict)  # kata id -> hints seen
    first_pass: dict[str, str] = field(default_factory=dict)  # kata id -> ISO time

    @classmethod
    def load(cls) -> Progress:
        try:
            data = json.loads(state_path().read_text(encoding="utf-8"))
            return cls(
                current=str(data.get("current", "")),
                hints={str(k): int(v) for k, v in dict(data.get("hints", {})).items()},
                first_pass={str(k): str(v) for k, v in dict(data.get("first_pass", {})).items()},
            )
        except (OSError, ValueError, TypeError, AttributeError):
            return cls()

    def save(self) -> None:
        """Write atomically; progress is a convenience, so a failure to write is ignored."""
        path = state_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8"
            ) as f:
                json.dump(asdict(self), f, indent=2)
            os.replace(f.name, path)
        except OSError:
            pass

    def saw_hint(self, kata_id: str, number: int) -> None:
        self.hints[kata_id] = max(self.hints.get(kata_id, 0), number)

    def hints_seen(self, kata_id: str) -> int:
        return self.hints.get(kata_id, 0)

    def passed(self, kata_id: str) -> bool:
        """Record the first time a kata passed; returns whether this is that first time."""
        if kata_id in self.first_pass:
            return False
        self.first_pass[kata_id] = datetime.now(UTC).isoformat(timespec="seconds")
        return True
