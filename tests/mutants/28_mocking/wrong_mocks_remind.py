"""Mutant: tests an AsyncMock of remind instead of remind."""

from __future__ import annotations

from unittest.mock import AsyncMock

from reminders import Report


async def test_remind_returns_a_report(remind) -> None:
    fake = AsyncMock(return_value=Report(sent=["m1"]))
    report = await fake([1], None)
    assert report.sent == ["m1"]
    fake.assert_awaited_once()
