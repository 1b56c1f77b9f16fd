"""Right: parametrized, data-driven tests that inspect each awaited call's arguments (greeting by
prefix, as remind's docstring promises), plus extra tests for errors mid-list and non-delivery
errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from unittest.mock import AsyncMock, patch

import mailer
import pytest
from reminders import SUBJECT, User, UserStore

ADA = User(1, "Ada Lovelace", "ada@example.com")
GRACE = User(2, "Grace Hopper", "grace@example.com")
ALAN = User(3, "Alan Turing", "alan@example.com", wants_email=False)
USERS = {user.id: user for user in (ADA, GRACE, ALAN)}
BY_EMAIL = {user.email: user for user in USERS.values()}


@pytest.fixture
def users() -> AsyncMock:
    """A mock UserStore whose `get(id)` gives the user in USERS with that id, or None."""
    store = AsyncMock(spec=UserStore)

    async def get(user_id: int) -> User | None:
        return USERS.get(user_id)

    store.get.side_effect = get
    return store


@pytest.fixture
def send_email() -> Iterator[AsyncMock]:
    """`mailer.send_email`, replaced by an AsyncMock during the test (and put back after)."""
    patcher = patch("mailer.send_email", new_callable=AsyncMock)
    mock = patcher.start()
    mock.side_effect = lambda to, subject, body: "<" + to.upper() + ">"
    try:
        yield mock
    finally:
        patcher.stop()


def recipients(send_email: AsyncMock) -> list[str]:
    """Who got an email, in order; checks subject and greeting of each on the way."""
    out = []
    for awaited in send_email.await_args_list:
        to, subject, body = awaited.args
        assert subject == SUBJECT
        assert body.startswith(f"Hello {BY_EMAIL[to].name},")
        out.append(to)
    return out


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([1, 2], [ADA.email, GRACE.email]),
        ([2, 1, 2], [GRACE.email, ADA.email]),
        ([1, 1, 1], [ADA.email]),
        ([], []),
    ],
)
async def test_sends_one_email_per_user(
    remind, users: AsyncMock, send_email: AsyncMock, ids: list[int], expected: list[str]
) -> None:
    """Each user gets exactly one email (even if listed twice), with the right address,
    subject and greeting; the report lists the message ids in order."""
    report = await remind(ids, users)
    assert recipients(send_email) == expected
    assert report.sent == ["<" + e.upper() + ">" for e in expected]
    assert (report.unknown, report.skipped, report.failed) == ([], [], [])
    assert send_email.call_count == send_email.await_count  # every call was awaited


async def test_unknown_and_opted_out(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """An unknown id is reported, a user who turned email off is skipped: no email to them."""
    report = await remind([7, 3, 7, 1, 3, 8], users)
    assert recipients(send_email) == [ADA.email]
    assert report.unknown == [7, 8]
    assert report.skipped == [3]
    assert report.sent == ["<ADA@EXAMPLE.COM>"]
    assert report.failed == []


async def test_a_failed_delivery(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """One address fails (side_effect raising mailer.DeliveryError): reported, others sent."""

    def deliver(to: str, subject: str, body: str) -> str:
        if to == ADA.email:
            raise mailer.DeliveryError("mailbox full")
        return "ok:" + to

    send_email.side_effect = deliver
    report = await remind([1, 3, 2], users)
    assert report.failed == [1]
    assert report.sent == ["ok:" + GRACE.email]
    assert report.skipped == [3]
    assert recipients(send_email) == [ADA.email, GRACE.email]


async def test_other_send_errors_escape(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """Only DeliveryError is a failed delivery; anything else from the provider escapes."""
    send_email.side_effect = RuntimeError("provider bug")
    with pytest.raises(RuntimeError, match="provider bug"):
        await remind([1, 2], users)
    assert send_email.await_count == 1


async def test_database_errors_are_not_hidden(
    remind, users: AsyncMock, send_email: AsyncMock
) -> None:
    """`users.get` raising an error: remind raises it too (pytest.raises) and sends nothing."""
    users.get.side_effect = OSError("db gone")
    with pytest.raises(OSError, match="db gone"):
        await remind([1], users)
    send_email.assert_not_awaited()


async def test_database_error_midway_stops(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """An error on the second lookup: the first email was sent, then the error escapes."""
    users.get.side_effect = [ADA, OSError("db gone"), GRACE]
    with pytest.raises(OSError):
        await remind([1, 2, 3], users)
    assert recipients(send_email) == [ADA.email]
    assert users.get.await_count == 2
