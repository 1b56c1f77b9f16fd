"""The spec, pinned before learner code runs: expected test names and test file bytes.

Learner code runs inside the test process and could rewrite a test file to weaken it for
itself and every later run. The checker reads what each kata expects, and keeps each
test file's bytes, before the run; afterwards a changed file is put back and reported.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from checker.katas import KATAS_DIR, ROOT, Kata, shown_path

SHARED_FILES = (KATAS_DIR / "conftest.py",)  # used by every kata's tests: reported, not restored


@dataclass(frozen=True)
class PinnedFile:
    path: Path
    data: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Pins:
    expected: dict[str, list[str]] = field(default_factory=dict)  # kata id -> test names
    files: dict[str, list[PinnedFile]] = field(default_factory=dict)  # kata id -> its spec

    @classmethod
    def take(cls, katas: list[Kata]) -> Pins:
        pins = cls()
        shared = [_pin(p) for p in SHARED_FILES if p.is_file()]
        for kata in katas:
            pins.expected[kata.id] = kata.expected_tests()
            pins.files[kata.id] = [_pin(p) for p in kata.spec_files] + shared
        return pins

    def changed(self, restore: bool = True) -> dict[str, list[str]]:
        """Kata id -> the spec files that differ now, each put back as it was pinned.

        The changed version is kept under `changed_dir()`, so that nothing is lost when
        it was a person, not learner code, who edited the file meanwhile.
        `restore=False` (verify, where authors edit tests while it runs) only reports.
        """
        found: dict[str, list[str]] = {}
        restored: set[Path] = set()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for kata_id, files in self.files.items():
            for pinned in files:
                if pinned.path in restored or _digest(pinned.path) != pinned.digest:
                    if restore and pinned.path not in restored and not _shared(pinned.path):
                        _keep_changed(pinned.path, stamp)
                        pinned.path.write_bytes(pinned.data)
                        restored.add(pinned.path)
                    found.setdefault(kata_id, []).append(shown_path(pinned.path))
        return found


def _shared(path: Path) -> bool:
    """The course's shared guards are edited by authors while runs go on: never undone."""
    return path in SHARED_FILES


def changed_dir() -> Path:
    """Where changed spec files are kept: outside the project, so katas/ stays as it was."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "asynckata" / "changed"


def _keep_changed(path: Path, stamp: str) -> None:
    try:
        kept = changed_dir() / stamp / path.relative_to(ROOT)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(path.read_bytes())
    except (OSError, ValueError):
        pass


def _pin(path: Path) -> PinnedFile:
    return PinnedFile(path, path.read_bytes())


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
