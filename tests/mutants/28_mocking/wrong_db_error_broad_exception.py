"""Wrong: the database test expects any Exception and never checks that nothing was sent: a remind
that crashes some other way, or sends first, passes
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from unittest.mock import AsyncMock, call, patch

import mailer
import pytest
from reminders import SUBJECT, User, UserStore

ADA = User(1, "Ada Lovelace", "ada@example.com")
GRACE = User(2, "Grace Hopper", "grace@example.com")
ALAN = User(3, "Alan Turing", "alan@example.com", wants_email=False)
USERS = {user.id: user for user in (ADA, GRACE, ALAN)}


def body(user: User) -> str:
    return f"Hello {user.name}, your invoice is due. Thank you!"


def expected(sent=(), unknown=(), skipped=(), failed=()) -> dict[str, list]:
    return {
        "sent": list(sent),
        "unknown": list(unknown),
        "skipped": list(skipped),
        "failed": list(failed),
    }


@pytest.fixture
def users() -> AsyncMock:
    """A mock UserStore whose `get(id)` gives the user in USERS with that id, or None."""
    store = AsyncMock(spec=UserStore)
    store.get.side_effect = USERS.get
    return store


@pytest.fixture
def send_email() -> Iterator[AsyncMock]:
    """`mailer.send_email`, replaced by an AsyncMock during the test (and put back after)."""
    with patch("mailer.send_email", new_callable=AsyncMock) as mock:
        mock.side_effect = lambda to, subject, body: f"msg-{to}"
        yield mock


async def test_sends_one_email_per_user(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """Each user gets exactly one email (even if listed twice), with the right address,
    subject and greeting; the report lists the message ids in order."""
    report = await remind([2, 1, 2, 1], users)

    assert send_email.await_args_list == [
        call(GRACE.email, SUBJECT, body(GRACE)),
        call(ADA.email, SUBJECT, body(ADA)),
    ]
    assert asdict(report) == expected(sent=[f"msg-{GRACE.email}", f"msg-{ADA.email}"])


async def test_unknown_and_opted_out(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """An unknown id is reported, a user who turned email off is skipped: no email to them."""
    report = await remind([99, 3, 1, 99, 3], users)

    send_email.assert_awaited_once_with(ADA.email, SUBJECT, body(ADA))
    assert asdict(report) == expected(sent=[f"msg-{ADA.email}"], unknown=[99], skipped=[ALAN.id])


async def test_a_failed_delivery(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """One address fails (side_effect raising mailer.DeliveryError): reported, others sent."""

    async def deliver(to: str, subject: str, text: str) -> str:
        if to == GRACE.email:
            raise mailer.DeliveryError(to)
        return f"msg-{to}"

    send_email.side_effect = deliver
    report = await remind([2, 1], users)

    assert send_email.await_args_list == [
        call(GRACE.email, SUBJECT, body(GRACE)),
        call(ADA.email, SUBJECT, body(ADA)),
    ]
    assert asdict(report) == expected(sent=[f"msg-{ADA.email}"], failed=[GRACE.id])


async def test_database_errors_are_not_hidden(
    remind, users: AsyncMock, send_email: AsyncMock
) -> None:
    """`users.get` raising an error: remind raises it too (pytest.raises) and sends nothing."""
    users.get.side_effect = ConnectionError("database down")

    with pytest.raises(Exception):
        await remind([1, 2], users)
