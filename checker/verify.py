"""`python -m checker verify`: the authoring check that proves every kata's tests.

Every solution passes, every stub fails as not started, every mutant (a known-wrong
learner file under tests/mutants/<kata>/) fails, and every kept right answer (a correct
alternative under tests/alternatives/<kata>/) passes, so no test over-constrains.
Runs batch the work: one pytest process for all solutions, one for all stubs, and one
per "k-th mutant (or alternative) of every kata". Each run is a fork of one of two warm
test processes (warm.py), so hundreds of runs do not each pay pytest's start-up, and a
mutant's kata stops at its first failing test: that is its verdict.
"""

from __future__ import annotations

import ast
import json
import queue
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict
from functools import partial
from pathlib import Path

from checker.katas import ALTERNATIVES_DIR, KATAS_DIR, MUTANTS_DIR, ROOT, SOLUTIONS_DIR, Kata
from checker.results import Finding, KataResult, KataStatus
from checker.runner import check
from checker.shard import Shard
from checker.warm_client import WarmServer

MIN_HINTS = 2
MIN_MUTANTS = 2


def mutants_of(kata: Kata) -> list[Path]:
    """Known-wrong learner files: each must not pass."""
    return _files_in(MUTANTS_DIR / kata.id)


def alternatives_of(kata: Kata) -> list[Path]:
    """Correct learner files other than the reference: each must pass."""
    return _files_in(ALTERNATIVES_DIR / kata.id)


def _files_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.py")) if folder.is_dir() else []


def static_findings(katas: list[Kata]) -> list[Finding]:
    """What can be seen without running anything: files, hints, mutant docstrings."""
    found: list[Finding] = []

    def need(kata: Kata, file: Path | str, ok: bool, expected: str, got: str) -> None:
        found.append(Finding(kata.id, _rel(file), expected, got, ok))

    modules: dict[str, str] = {}
    for kata in katas:
        need(kata, kata.path / "README.md", (kata.path / "README.md").is_file(), "a lesson", "")
        need(
            kata,
            kata.path / "kata.toml",
            len(kata.hints) >= MIN_HINTS,
            f">= {MIN_HINTS} hints",
            f"{len(kata.hints)} hints",
        )
        need(
            kata,
            kata.learner_file(SOLUTIONS_DIR),
            kata.learner_file(SOLUTIONS_DIR).is_file(),
            "a solution",
            "missing",
        )
        need(kata, kata.path, bool(kata.expected_tests()), "tests", "no test functions")
        for module, file in [
            (kata.module, kata.file),
            *((p.stem, p.name) for p in kata.given_files),
        ]:
            other = modules.setdefault(module, kata.id)
            need(
                kata,
                file,
                other == kata.id,
                "a module name no other kata uses",
                f"also used by {other}",
            )
        mutants = mutants_of(kata)
        need(
            kata,
            MUTANTS_DIR / kata.id,
            len(mutants) >= MIN_MUTANTS,
            f">= {MIN_MUTANTS} mutants",
            f"{len(mutants)} mutants",
        )
        for mutant in mutants:
            need(kata, mutant, _has_docstring(mutant), "a docstring naming the mistake", "none")
        for alternative in alternatives_of(kata):
            need(kata, alternative, _has_docstring(alternative), "a docstring naming it", "none")
    return found


def _has_docstring(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    return bool(doc and doc.strip())


def _rel(path: Path | str) -> str:
    path = Path(path)
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _expect(results: list[KataResult], files: dict[str, Path], want: str) -> list[Finding]:
    findings = []
    for r in results:
        if want == "not passed":
            ok = r.status is not KataStatus.PASSED
        else:
            ok = r.status == want
        detail = "" if ok else _why(r)
        findings.append(Finding(r.id, _rel(files[r.id]), want, str(r.status), ok, detail))
    return findings


def _why(result: KataResult) -> str:
    if result.message:
        return result.message
    problem = result.first_problem()
    if problem is None:
        return "every test passed"
    return f"{problem.name}: {problem.status}: {problem.message}"


def _batches(katas: list[Kata], files_of: Callable[[Kata], list[Path]]) -> list[dict[Kata, Path]]:
    """The k-th file of every kata in batch k: one pytest process checks many katas."""
    batches: list[dict[Kata, Path]] = []
    for kata in katas:
        for i, file in enumerate(files_of(kata)):
            if i == len(batches):
                batches.append({})
            batches[i][kata] = file
    return batches


WORKERS = 2  # runs at a time, each in a fork of its own warm process


def run_checks(katas: list[Kata], shard: Shard | None = None) -> list[Finding]:
    """Run solutions, stubs, mutant and alternative batches (two at a time).

    With a `shard`, only that share of each kata's mutants runs.
    """
    mutants = mutants_of if shard is None else lambda kata: shard.of(mutants_of(kata))
    with ExitStack() as stack:
        servers: queue.Queue[WarmServer] = queue.Queue()
        for _ in range(WORKERS):
            servers.put(stack.enter_context(WarmServer()))

        def run(files: dict[Kata, Path], folder: Path, want: str) -> list[Finding]:
            server = servers.get()
            try:
                launch = partial(server.launch, first_failure_only=want == "not passed")
                results = check(list(files), folder, launch=launch, restore_spec=False)
            finally:
                servers.put(server)
            return _expect(results, {k.id: f for k, f in files.items()}, want)

        def batch(files: dict[Kata, Path], want: str) -> list[Finding]:
            with tempfile.TemporaryDirectory(prefix="asynckata-verify-") as tmp:
                for kata, file in files.items():
                    (Path(tmp) / kata.id).mkdir()
                    shutil.copyfile(file, kata.learner_file(Path(tmp)))
                return run(files, Path(tmp), want)

        passed = str(KataStatus.PASSED)
        solutions = {k: k.learner_file(SOLUTIONS_DIR) for k in katas}
        stubs = {k: k.learner_file(KATAS_DIR) for k in katas}
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            futures = [
                pool.submit(run, solutions, SOLUTIONS_DIR, passed),
                pool.submit(run, stubs, KATAS_DIR, str(KataStatus.NOT_STARTED)),
            ]
            futures += [pool.submit(batch, b, "not passed") for b in _batches(katas, mutants)]
            futures += [pool.submit(batch, b, passed) for b in _batches(katas, alternatives_of)]
            return [f for fut in futures for f in fut.result()]


def run_verify(katas: list[Kata], *, as_json: bool, shard: Shard | None = None) -> int:
    findings = static_findings(katas) + run_checks(katas, shard)
    failed = [f for f in findings if not f.ok]
    if as_json:
        report = {
            "ok": not failed,
            "shard": str(shard) if shard else None,
            "findings": [asdict(f) for f in findings],
        }
        print(json.dumps(report, indent=2))
    else:
        from checker.console import console
        from checker.render import format_verify

        console.print(format_verify(findings))
        if shard:
            console.print(f"Mutants: share {shard} of each kata's (--shard), not all of them.")
    return 0 if not failed else 1
