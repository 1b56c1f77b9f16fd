"""Mutant: returns a JSONResponse with background= for the audit only, which replaces the added
email task."""

import asyncio
import logging
from typing import Protocol

from fastapi import BackgroundTasks, FastAPI, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

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
    """Send `to` the welcome email: `await mailer.send(to, f"Welcome, {name}!")`.

    If that raises MailerError, wait RETRY_DELAY seconds (without blocking the event loop)
    and try once more. If the second attempt fails too, log it and append `to` to
    `failed`. Never let a MailerError escape: this runs after the response, and nobody is
    left to catch it.
    """
    subject = f"Welcome, {name}!"
    try:
        await mailer.send(to, subject)
        return
    except MailerError:
        logger.warning("Welcome email to %s failed; retrying in %s s", to, RETRY_DELAY)
    await asyncio.sleep(RETRY_DELAY)
    try:
        await mailer.send(to, subject)
    except MailerError:
        logger.exception("Welcome email to %s failed twice; giving up", to)
        failed.append(to)


def record_signup(audit: AuditLog, email: str) -> None:
    """Write the line f"signup {email}" to the audit log.

    `audit.write` blocks, so this is a plain `def`: FastAPI runs a plain-def background
    task in its thread pool, away from the event loop.
    """
    audit.write(f"signup {email}")


def create_app(mailer: Mailer, audit: AuditLog) -> FastAPI:
    """A fresh app. `app.state.failed_emails` starts as an empty list of its own.

    `POST /signup`, body SignupIn: answer 201 with a SignupOut at once. After the response
    has been sent, as background tasks of this request: send the welcome email (a failure
    for good lands in `app.state.failed_emails`) and record the signup in the audit log.

    An email that has already signed up on this app gets 409 Conflict, and no email and
    no audit line.
    """
    app = FastAPI(title="Signups")
    app.state.failed_emails = []
    signed_up: set[str] = set()

    @app.post("/signup", status_code=status.HTTP_201_CREATED)
    async def signup(data: SignupIn, background_tasks: BackgroundTasks) -> JSONResponse:
        if data.email in signed_up:
            raise HTTPException(
                status.HTTP_409_CONFLICT, detail=f"{data.email} has signed up already."
            )
        signed_up.add(data.email)
        background_tasks.add_task(
            send_welcome_email, mailer, app.state.failed_emails, data.email, data.name
        )
        return JSONResponse(
            {"email": data.email, "name": data.name},
            status_code=201,
            background=BackgroundTask(record_signup, audit, data.email),
        )

    return app
