"""Mutant (misses one bug): never checks which list an opted-out user lands in."""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import AsyncMock, call, patch

import mailer
import pytest
from reminders import SUBJECT, User, UserStore

ADA = User(1, "Ada Lovelace", "ada@example.com")
GRACE = User(2, "Grace Hopper", "grace@example.com")
ALAN = User(3, "Alan Turing", "alan@example.com", wants_email=False)
USERS = {user.id: user for user in (ADA, GRACE, ALAN)}


@pytest.fixture
def users() -> AsyncMock:
    store = AsyncMock(spec=UserStore)
    store.get.side_effect = USERS.get
    return store


@pytest.fixture
def send_email() -> Iterator[AsyncMock]:
    with patch("mailer.send_email", new_callable=AsyncMock) as mock:
        mock.side_effect = lambda to, subject, body: f"msg-{to}"
        yield mock


def email_to(user: User) -> object:
    return call(user.email, SUBJECT, f"Hello {user.name}, your invoice is due. Thank you!")


async def test_sends_one_email_per_user(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    report = await remind([2, 1, 2], users)
    assert send_email.await_args_list == [email_to(GRACE), email_to(ADA)]
    assert report.sent == ["msg-grace@example.com", "msg-ada@example.com"]
    assert report.unknown == report.skipped == report.failed == []


async def test_unknown_and_opted_out(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    report = await remind([3, 42, 1], users)
    send_email.assert_awaited_once_with(*email_to(ADA).args)
    assert 42 in report.unknown
    assert report.sent == ["msg-ada@example.com"]


async def test_a_failed_delivery(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    send_email.side_effect = [mailer.DeliveryError("mailbox full"), "msg-2"]
    report = await remind([1, 2], users)
    assert report.failed == [1]
    assert report.sent == ["msg-2"]
    assert send_email.await_count == 2


async def test_database_errors_are_not_hidden(
    remind, users: AsyncMock, send_email: AsyncMock
) -> None:
    users.get.side_effect = ConnectionError("database down")
    with pytest.raises(ConnectionError):
        await remind([1], users)
    send_email.assert_not_awaited()
