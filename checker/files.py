"""The only code that writes a learner file (reset, after a backup) or opens an editor.

The original stub comes from git (`HEAD`), since a checkout is how a learner gets the
course; the learner's version is always kept first, beside it, with a timestamp.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from checker.katas import ROOT, Kata


class ResetError(Exception):
    """Why a kata could not be reset; the message says what to do instead."""


@dataclass(frozen=True)
class ResetResult:
    file: Path
    backup: Path | None  # None: the file was already the original


def original_stub(kata: Kata, root: Path = ROOT) -> bytes:
    """The stub as the course ships it: the committed version of the learner file."""
    rel = (kata.path / kata.file).relative_to(root).as_posix()
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{rel}"],
            capture_output=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ResetError(f"cannot read the original {rel} from git: {exc}") from exc
    if done.returncode != 0:
        raise ResetError(
            f"cannot find the original {rel} in git ({done.stderr.decode().strip()}); "
            "reset needs the course as a git checkout"
        )
    return done.stdout


def reset(kata: Kata, now: datetime | None = None, root: Path = ROOT) -> ResetResult:
    """Put the original stub back, keeping the learner's version as a timestamped backup."""
    file = kata.path / kata.file
    stub = original_stub(kata, root)
    if file.is_file() and file.read_bytes() == stub:
        return ResetResult(file, None)
    backup = None
    if file.exists():
        stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
        backup = file.with_name(f"{file.name}.{stamp}.bak")
        shutil.copy2(file, backup)
    file.write_bytes(stub)
    return ResetResult(file, backup)


def editor_command(file: Path, line: int | None) -> list[str] | None:
    """How to open `file` at `line` in $VISUAL or $EDITOR, or None when neither is set."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        return None
    argv = shlex.split(editor)
    name = Path(argv[0]).name
    if line is None:
        return [*argv, str(file)]
    if name in {"code", "codium", "code-insiders", "cursor"}:
        return [*argv, "--goto", f"{file}:{line}"]
    if name in {"subl", "zed", "hx", "helix"}:
        return [*argv, f"{file}:{line}"]
    return [*argv, f"+{line}", str(file)]  # vi, vim, nvim, nano, emacs, micro, kak, ...


def open_in_editor(file: Path, line: int | None) -> str:
    """Open the editor; returns what happened, in words."""
    command = editor_command(file, line)
    if command is None:
        return "Set $VISUAL or $EDITOR to open files from the checker (e.g. export EDITOR=nano)."
    try:
        subprocess.run(command, check=False)
    except OSError as exc:
        return f"Could not start {command[0]}: {exc}"
    return ""
