"""Right: patch.object on the mailer module, list side_effects (an exception instance in the list),
one assert per report field, assert_has_awaits + await_count.
"""

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
    """A mock UserStore whose `get(id)` gives the user in USERS with that id, or None."""
    store = AsyncMock(spec=UserStore)
    store.get.side_effect = lambda user_id: USERS.get(user_id)
    return store


@pytest.fixture
def send_email() -> Iterator[AsyncMock]:
    """`mailer.send_email`, replaced by an AsyncMock during the test (and put back after)."""
    with patch.object(mailer, "send_email", new_callable=AsyncMock) as mock:
        mock.side_effect = ["id-1", "id-2", "id-3", "id-4"]
        yield mock


def greeting(user: User) -> str:
    return f"Hello {user.name}, your invoice is due. Thank you!"


async def test_sends_one_email_per_user(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """Each user gets exactly one email (even if listed twice), with the right address,
    subject and greeting; the report lists the message ids in order."""
    report = await remind([1, 2, 1, 2, 2], users)

    assert send_email.await_count == 2
    send_email.assert_has_awaits(
        [call(ADA.email, SUBJECT, greeting(ADA)), call(GRACE.email, SUBJECT, greeting(GRACE))]
    )
    assert report.sent == ["id-1", "id-2"]
    assert report.unknown == []
    assert report.skipped == []
    assert report.failed == []


async def test_unknown_and_opted_out(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """An unknown id is reported, a user who turned email off is skipped: no email to them."""
    report = await remind([3, 42, 2, 42, 3], users)

    send_email.assert_awaited_once_with(GRACE.email, SUBJECT, greeting(GRACE))
    assert report.sent == ["id-1"]
    assert report.unknown == [42]
    assert report.skipped == [3]
    assert report.failed == []


async def test_a_failed_delivery(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """One address fails (side_effect raising mailer.DeliveryError): reported, others sent."""
    send_email.side_effect = ["id-ada", mailer.DeliveryError("bounced")]
    report = await remind([1, 2], users)
    assert report.sent == ["id-ada"]
    assert report.failed == [2]

    send_email.reset_mock()
    send_email.side_effect = [mailer.DeliveryError("bounced"), "id-grace"]
    report = await remind([1, 2], users)
    assert report.sent == ["id-grace"]
    assert report.failed == [1]
    assert report.unknown == [] and report.skipped == []
    assert send_email.await_args_list == [
        call(ADA.email, SUBJECT, greeting(ADA)),
        call(GRACE.email, SUBJECT, greeting(GRACE)),
    ]


async def test_only_delivery_errors_are_caught(
    remind, users: AsyncMock, send_email: AsyncMock
) -> None:
    """A provider error that is not a DeliveryError is not reported as failed: it escapes."""
    send_email.side_effect = [ValueError("bad address format")]
    with pytest.raises(ValueError):
        await remind([1, 2], users)


async def test_database_errors_are_not_hidden(
    remind, users: AsyncMock, send_email: AsyncMock
) -> None:
    """`users.get` raising an error: remind raises it too (pytest.raises) and sends nothing."""
    users.get.side_effect = TimeoutError("db timeout")
    with pytest.raises(TimeoutError):
        await remind([2], users)
    send_email.assert_not_awaited()
    assert send_email.call_count == 0
