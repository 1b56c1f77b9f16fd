"""The code under test in kata 28. It works: your tests must pass against it.

(Read it, but don't edit it. The grader also runs your tests against broken copies.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import mailer

SUBJECT = "Your invoice is due"


@dataclass
class User:
    id: int
    name: str
    email: str
    wants_email: bool = True


class UserStore(Protocol):
    """The user database."""

    async def get(self, user_id: int) -> User | None:
        """The user, or None; raises its own errors when the database fails."""
        ...


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)  # the provider's message ids, in order
    unknown: list[int] = field(default_factory=list)  # ids with no user
    skipped: list[int] = field(default_factory=list)  # users who don't want email
    failed: list[int] = field(default_factory=list)  # users the provider could not reach


async def remind(user_ids: list[int], users: UserStore) -> Report:
    """Email an invoice reminder to each user, in order, once per user.

    - an id seen before is ignored (each user gets one email);
    - `await users.get(id)`: None goes to `unknown`; a database error is not caught;
    - a user with `wants_email=False` goes to `skipped` and gets nothing;
    - otherwise `await mailer.send_email(user.email, SUBJECT, f"Hello {user.name}, ...")`
      (the body starts with "Hello <name>,"): the message id goes to `sent`; a
      `mailer.DeliveryError` puts the user in `failed` and the others still get theirs.
    """
    report = Report()
    seen: set[int] = set()
    for user_id in user_ids:
        if user_id in seen:
            continue
        seen.add(user_id)
        user = await users.get(user_id)
        if user is None:
            report.unknown.append(user_id)
            continue
        if not user.wants_email:
            report.skipped.append(user.id)
            continue
        body = f"Hello {user.name}, your invoice is due. Thank you!"
        try:
            report.sent.append(await mailer.send_email(user.email, SUBJECT, body))
        except mailer.DeliveryError:
            report.failed.append(user.id)
    return report
