"""Right answer: a retry loop, record_signup as an async def that awaits asyncio.to_thread,
the signups kept on app.state."""

import asyncio
import logging
from typing import Protocol

from fastapi import BackgroundTasks, FastAPI, HTTPException
from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

RETRY_DELAY = 5.0  # seconds to wait before the second (and last) attempt at an email


class SignupIn(BaseModel):
    """What a client sends to sign up."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)
    name: str = Field(min_length=1, max_length=50)


class SignupOut(BaseModel):
    """What the client gets back."""

    email: str
    name: str


class MailerError(Exception):
    """What a Mailer raises when the mail provider refuses the email or can't be reached."""


class Mailer(Protocol):
    async def send(self, to: str, subject: str) -> None:
        """Send one email. It takes a few seconds (it waits on the network); it may raise
        MailerError."""
        ...


class AuditLog(Protocol):
    def write(self, line: str) -> None:
        """Append one line to the audit log. A blocking call (a file, a sync database
        driver): never call it on the event loop."""
        ...


async def send_welcome_email(mailer: Mailer, failed: list[str], to: str, name: str) -> None:
    """Send the welcome email; one retry after RETRY_DELAY; record a failure for good."""
    for attempt in (1, 2):
        try:
            await mailer.send(to, f"Welcome, {name}!")
        except MailerError as error:
            if attempt == 2:
                logger.error("Giving up on the welcome email to %s: %s", to, error)
                failed.append(to)
            else:
                await asyncio.sleep(RETRY_DELAY)
        else:
            break


async def record_signup(audit: AuditLog, email: str) -> None:
    """Write the line f"signup {email}" to the audit log, in a worker thread."""
    await asyncio.to_thread(audit.write, f"signup {email}")


def create_app(mailer: Mailer, audit: AuditLog) -> FastAPI:
    """A fresh app. `app.state.failed_emails` starts as an empty list of its own."""
    app = FastAPI()
    app.state.failed_emails = []
    app.state.signups = {}

    @app.post("/signup", status_code=201, response_model=SignupOut)
    async def signup(data: SignupIn, tasks: BackgroundTasks) -> SignupOut:
        if data.email in app.state.signups:
            raise HTTPException(409, "Already signed up.")
        app.state.signups[data.email] = data
        tasks.add_task(record_signup, audit, data.email)
        tasks.add_task(send_welcome_email, mailer, app.state.failed_emails, data.email, data.name)
        return SignupOut(**data.model_dump())

    return app
