"""Kata 28: test `remind` (reminders.py) with its collaborators replaced by mocks.

The grader hands your tests one fixture, `remind`: the function under test (the real one,
then each broken copy). Take it as a parameter; don't import it from reminders.
Replace every `raise NotImplementedError(...)` with real code.
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


@pytest.fixture
def users() -> AsyncMock:
    """A mock UserStore whose `get(id)` gives the user in USERS with that id, or None."""
    # TODO: an AsyncMock with spec=UserStore; make its `get` answer from USERS (a
    # side_effect function, or USERS.get itself).
    raise NotImplementedError("users")


@pytest.fixture
def send_email() -> Iterator[AsyncMock]:
    """`mailer.send_email`, replaced by an AsyncMock during the test (and put back after)."""
    # TODO: patch "mailer.send_email" with an AsyncMock that returns message ids, and
    # yield the mock.
    raise NotImplementedError("send_email")
    yield


async def test_sends_one_email_per_user(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """Each user gets exactly one email (even if listed twice), with the right address,
    subject and greeting; the report lists the message ids in order."""
    raise NotImplementedError("test_sends_one_email_per_user")


async def test_unknown_and_opted_out(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """An unknown id is reported, a user who turned email off is skipped: no email to them."""
    raise NotImplementedError("test_unknown_and_opted_out")


async def test_a_failed_delivery(remind, users: AsyncMock, send_email: AsyncMock) -> None:
    """One address fails (side_effect raising mailer.DeliveryError): reported, others sent."""
    raise NotImplementedError("test_a_failed_delivery")


async def test_database_errors_are_not_hidden(
    remind, users: AsyncMock, send_email: AsyncMock
) -> None:
    """`users.get` raising an error: remind raises it too (pytest.raises) and sends nothing."""
    raise NotImplementedError("test_database_errors_are_not_hidden")
