"""`python -m checker verify`: the authoring check that proves every kata's tests.

Every solution passes, every stub fails as not started, every mutant (a known-wrong
learner file under tests/mutants/<kata>/) fails. Runs batch the work: one pytest process
for all solutions, one for all stubs, and one per "k-th mutant of every kata".
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from checker.katas import KATAS_DIR, MUTANTS_DIR, ROOT, SOLUTIONS_DIR, Kata
from checker.results import Finding, KataResult, KataStatus
from checker.runner import check

MIN_HINTS = 2
MIN_MUTANTS = 2


def mutants_of(kata: Kata) -> list[Path]:
    folder = MUTANTS_DIR / kata.id
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
        other = modules.setdefault(kata.module, kata.id)
        need(
            kata,
            kata.file,
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
            doc = ast.get_docstring(ast.parse(mutant.read_text(encoding="utf-8")))
            need(
                kata,
                mutant,
                bool(doc and doc.strip()),
                "a docstring naming the mistake",
                "no docstring",
            )
    return found


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


def run_checks(katas: list[Kata]) -> list[Finding]:
    """Run solutions, stubs and mutant batches (two processes at a time)."""
    batches: list[dict[Kata, Path]] = []
    for kata in katas:
        for i, mutant in enumerate(mutants_of(kata)):
            if i == len(batches):
                batches.append({})
            batches[i][kata] = mutant

    def solutions() -> list[Finding]:
        files = {k.id: k.learner_file(SOLUTIONS_DIR) for k in katas}
        return _expect(check(katas, SOLUTIONS_DIR), files, str(KataStatus.PASSED))

    def stubs() -> list[Finding]:
        files = {k.id: k.learner_file(KATAS_DIR) for k in katas}
        return _expect(check(katas, KATAS_DIR), files, str(KataStatus.NOT_STARTED))

    def mutant_batch(batch: dict[Kata, Path]) -> list[Finding]:
        with tempfile.TemporaryDirectory(prefix="asynckata-mutants-") as tmp:
            for kata, mutant in batch.items():
                (Path(tmp) / kata.id).mkdir()
                shutil.copyfile(mutant, kata.learner_file(Path(tmp)))
            results = check(list(batch), Path(tmp))
        return _expect(results, {k.id: m for k, m in batch.items()}, "not passed")

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(solutions), pool.submit(stubs)]
        futures += [pool.submit(mutant_batch, b) for b in batches]
        return [f for fut in futures for f in fut.result()]


def run_verify(katas: list[Kata], *, as_json: bool) -> int:
    findings = static_findings(katas) + run_checks(katas)
    failed = [f for f in findings if not f.ok]
    if as_json:
        print(json.dumps({"ok": not failed, "findings": [asdict(f) for f in findings]}, indent=2))
    else:
        from checker.console import console
        from checker.render import format_verify

        console.print(format_verify(findings))
    return 0 if not failed else 1
