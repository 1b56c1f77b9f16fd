"""The email provider's client (given). The real one sends email: tests must patch it."""

from __future__ import annotations


class DeliveryError(Exception):
    """The provider could not deliver to this address."""


async def send_email(to: str, subject: str, body: str) -> str:
    """Sends one email; the provider's message id, or DeliveryError."""
    raise RuntimeError("no email in tests: patch mailer.send_email")
