"""The authoring check over every kata: solutions pass, stubs not started, mutants fail."""

from __future__ import annotations

import os

import pytest


# ~3,600 checks in about 110 warm forks, two at a time: about 15 minutes on two cores.
@pytest.mark.timeout(3600)
def test_verify_holds_for_every_kata(checker) -> None:
    # CI shares the mutants between its second and third Python (.ci/run): each still runs
    # every solution, stub and right answer.
    shard = os.environ.get("ASYNCKATA_VERIFY_SHARD", "")
    done = checker("verify", "--json", *(["--shard", shard] if shard else []))
    assert done.returncode == 0, "\n".join(
        f"{f['kata']} {f['file']}: expected {f['expected']}, got {f['got']} ({f['detail']})"
        for f in done.json()["findings"]
        if not f["ok"]
    )
    findings = done.json()["findings"]
    katas = {f["kata"] for f in findings}
    assert len(katas) >= 4
    for kata in katas:
        mutants = [f for f in findings if f["kata"] == kata and f["expected"] == "not passed"]
        assert len(mutants) >= (1 if shard else 2), f"{kata} has too few mutants"
