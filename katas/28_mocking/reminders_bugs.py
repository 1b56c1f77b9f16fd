"""Broken copies of `remind`: the grader runs your tests against each.

Try not to read this before your tests are written: a good test suite catches bugs it was
not written for. Each bug is one realistic mistake, described the way a bug report would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import mailer
from reminders import SUBJECT, Report, UserStore

Remind = Callable[[list[int], UserStore], Awaitable[Report]]


def _broken(bug: str) -> Remind:
    async def remind(user_ids: list[int], users: UserStore) -> Report:
        report = Report()
        seen: set[int] = set()
        for user_id in user_ids:
            if user_id in seen and bug != "duplicates":
                continue
            seen.add(user_id)
            try:
                user = await users.get(user_id)
            except Exception as error:
                if bug == "db-error-replaced":
                    raise RuntimeError("lookup failed") from error
                if bug != "db-error-swallowed":
                    raise
                report.unknown.append(user_id)
                continue
            if user is None and bug != "unknown-crash":
                report.unknown.append(user_id)
                continue
            if not user.wants_email and bug != "opted-out":  # type: ignore[union-attr]
                skipped = report.unknown if bug == "opted-out-as-unknown" else report.skipped
                skipped.append(user.id)
                continue
            name = user.name.split()[0] if bug == "first-name" else user.name  # type: ignore[union-attr]
            body = f"Hello {name}, your invoice is due. Thank you!"
            to = user.email  # type: ignore[union-attr]
            subject = "Reminder" if bug == "subject" else SUBJECT
            if bug == "no-await":
                report.sent.append(mailer.send_email(to, subject, body))  # type: ignore[arg-type]
                continue
            try:
                if bug == "stops-at-failure":
                    report.sent.append(await mailer.send_email(to, subject, body))
                else:
                    try:
                        report.sent.append(await mailer.send_email(to, subject, body))
                    except mailer.DeliveryError:
                        report.failed.append(user.id)
            except mailer.DeliveryError:
                report.failed.append(user.id)
                break
        return report

    return remind


# id -> (what the bug report says, the broken function)
BUGS: dict[str, tuple[str, Remind]] = {
    "duplicates": ("a user whose id is listed twice gets two emails", _broken("duplicates")),
    "opted-out": ("users who turned email off still get the reminder", _broken("opted-out")),
    "stops-at-failure": (
        "after one address fails, nobody after it in the list gets a reminder",
        _broken("stops-at-failure"),
    ),
    "db-error-swallowed": (
        "a database error while looking a user up is hidden: the user is reported unknown",
        _broken("db-error-swallowed"),
    ),
    "no-await": (
        "no email is really sent: the call to send_email is never awaited",
        _broken("no-await"),
    ),
    "subject": ("the reminder goes out with the subject 'Reminder'", _broken("subject")),
    "opted-out-as-unknown": (
        "users who turned email off are reported as unknown, not as skipped",
        _broken("opted-out-as-unknown"),
    ),
    "db-error-replaced": (
        "a database error comes out as RuntimeError('lookup failed'), hiding the real error",
        _broken("db-error-replaced"),
    ),
    "unknown-crash": ("an id with no user makes remind crash", _broken("unknown-crash")),
    "first-name": (
        "the greeting uses only the first word of the user's name",
        _broken("first-name"),
    ),
}
