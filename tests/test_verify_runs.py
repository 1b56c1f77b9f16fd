"""How verify runs its hundreds of files: warm forks, and a wrong file stopped at its first
failure. Quick checks on two katas; the whole course is test_verify's."""

from __future__ import annotations

from pathlib import Path

from checker import results as r
from checker.katas import SOLUTIONS_DIR, load_kata
from checker.results import KataStatus
from checker.runner import check
from checker.shard import Shard
from checker.warm_client import WarmServer

ROOT = Path(__file__).resolve().parent.parent


def test_a_wrong_file_stops_at_its_first_failure_and_the_next_kata_runs_in_full(
    submission,
) -> None:
    katas = [load_kata(ROOT / "katas" / name) for name in ("01_coroutines", "02_blocking")]
    with WarmServer() as server:
        results = check(
            katas,
            submission("wrong"),
            launch=lambda k, t, m: server.launch(k, t, m, first_failure_only=True),
            restore_spec=False,
        )
    wrong, solved = results
    assert wrong.status is not KataStatus.PASSED
    ran = [t for t in wrong.tests if "verify: an earlier test" not in t.message]
    assert [t.status for t in ran].count(r.TestStatus.FAILED) == 1, [
        (t.name, t.status, t.message[:60]) for t in wrong.tests
    ]
    assert len(ran) < len(wrong.tests)
    assert solved.status is KataStatus.PASSED


def test_a_learner_test_that_catches_a_bug_does_not_stop_a_testing_kata() -> None:
    # A learner's test failing on a broken copy is a catch, not a failure of the kata.
    kata = load_kata(ROOT / "katas" / "26_testing_apis")
    with WarmServer() as server:
        [result] = check(
            [kata],
            SOLUTIONS_DIR,
            launch=lambda k, t, m: server.launch(k, t, m, first_failure_only=True),
            restore_spec=False,
        )
    assert result.status is KataStatus.PASSED, result.first_problem()


def test_shards_share_the_mutants_without_overlap() -> None:
    items = list(range(7))
    first, second = Shard(1, 2).of(items), Shard(2, 2).of(items)
    assert sorted(first + second) == items and not set(first) & set(second)
    assert Shard(1, 1).of(items) == items


def test_a_bad_shard_is_a_usage_error(checker) -> None:
    done = checker("verify", "--shard", "3/2")
    assert done.returncode == 2
    assert "K/N" in done.stderr
