"""Kata 19 tests: they are the spec. Read them, but don't edit them."""

import asyncio
import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
import httpx
import pytest
import signup_api
from signup_api import MailerError, create_app

SEND_SECONDS = 2  # how long the fake mailer takes for one attempt
RETRY_DELAY = 5  # the pause between the two attempts, as the stub says


@pytest.fixture(autouse=True)
def _threads_in_loop_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """FastAPI runs a plain-def background task in a worker thread through anyio.

    Virtual time only knows to wait for threads started with loop.run_in_executor, so
    anyio's thread calls are routed there. The task still runs in a real worker thread.
    """

    async def run_sync(func: Any, *args: Any, **_options: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(func, *args))

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    yield


class BlockedTheLoop(AssertionError):
    """Raised by the fake audit log when its blocking write runs on the event loop."""


@dataclass
class Journal:
    """What happened, in order, with the loop time of each entry (from 0 at the start)."""

    loop: asyncio.AbstractEventLoop
    start: float = 0.0
    entries: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.start = self.loop.time()

    def note(self, what: str) -> None:  # also called from worker threads
        self.entries.append((round(self.loop.time() - self.start, 6), what))

    def when(self, what: str) -> float | None:
        return next((t for t, entry in self.entries if entry == what), None)

    def index(self, what: str) -> int | None:
        return next((i for i, (_, entry) in enumerate(self.entries) if entry == what), None)

    def first_email_sent(self) -> int | None:
        """Where the first email (to whoever) was sent."""
        return next(
            (
                i
                for i, (_, entry) in enumerate(self.entries)
                if entry.startswith("email to ") and entry.endswith(" sent")
            ),
            None,
        )

    def story(self) -> str:
        return "; ".join(f"{what} at {t:g} s" for t, what in self.entries) or "nothing happened"


class FakeMailer:
    """Each attempt takes SEND_SECONDS. `failures[to]` attempts for `to` fail first."""

    def __init__(self, journal: Journal, failures: dict[str, int] | None = None) -> None:
        self.journal = journal
        self.failures = dict(failures or {})
        self.attempts: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []

    async def send(self, to: str, subject: str) -> None:
        self.attempts.append((to, subject))
        self.journal.note(f"email to {to} started")
        try:
            await asyncio.sleep(SEND_SECONDS)
        except asyncio.CancelledError:
            for _ in range(3):  # hanging up on the mail provider takes a few turns
                await asyncio.sleep(0)
            self.journal.note(f"email to {to} cancelled")
            raise
        if self.failures.get(to, 0) > 0:
            self.failures[to] -= 1
            self.journal.note(f"email to {to} failed")
            raise MailerError(f"the mail provider refused the email to {to}")
        self.sent.append((to, subject))
        self.journal.note(f"email to {to} sent")


class FakeAudit:
    """A blocking audit log: it notes whether each write ran away from the event loop."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.loop_thread = threading.get_ident()
        self.lines: list[str] = []
        self.on_the_loop: list[str] = []

    def write(self, line: str) -> None:
        if threading.get_ident() == self.loop_thread:
            self.on_the_loop.append(line)
            raise BlockedTheLoop(
                f"audit.write({line!r}) ran on the event loop's thread. It is a blocking call: "
                "while it runs, no other request is served. Call it from a plain-def task "
                "(FastAPI runs those in its thread pool), not from an async def."
            )
        time.sleep(0.001)  # a blocking write; fine in a worker thread
        self.lines.append(line)
        self.journal.note(f"audit {line!r} written")


class ResponseWatch:
    """Wraps the app like a server would, and notes when each response was sent.

    With httpx.ASGITransport, `await client.post(...)` returns only once the whole ASGI
    call is over, background tasks included: the moment the response was *sent* is the
    moment the app handed over its last body chunk, noted here.
    """

    def __init__(self, app: Any, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        name = dict(scope["headers"]).get(b"x-signup", b"?").decode()

        async def noting_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                self.journal.note(f"response to {name} sent")

        await self.app(scope, receive, noting_send)
        self.journal.note(f"request of {name} over")


class Service:
    """A fresh app with a fake mailer and audit log, and a client to sign people up."""

    def __init__(self, deadline: Any, failures: dict[str, int] | None = None) -> None:
        self.journal = Journal(asyncio.get_running_loop())
        self.mailer = FakeMailer(self.journal, failures)
        self.audit = FakeAudit(self.journal)
        self.app = create_app(self.mailer, self.audit)
        self.deadline = deadline

    async def signup(self, email: str, name: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=ResponseWatch(self.app, self.journal))
        escaped: BaseException | None = None
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            try:
                async with self.deadline(120, f"POST /signup for {email}"):
                    return await client.post(
                        "/signup", json={"email": email, "name": name}, headers={"x-signup": email}
                    )
            except MailerError as error:  # only the mailer's own error, escaping the app
                escaped = error
            except TypeError as error:
                if "callable" not in str(error):
                    raise
                escaped = error
        if isinstance(escaped, MailerError):
            pytest.fail(
                f"The signup of {email} answered, and then MailerError({escaped}) escaped "
                "from its background task to the server. Nobody can catch it there: the "
                "client has its response already, the server only logs a traceback, and "
                "the request's later background tasks are skipped. Handle the failure in "
                f"the task: retry once, then record the address. {self.journal.story()}."
            )
        pytest.fail(
            f"POST /signup for {email} failed with TypeError: {escaped}. A background task "
            "was given something that is not a function. add_task takes the function and "
            "its arguments separately: add_task(func, arg1, arg2), not "
            "add_task(func(arg1, arg2)), which calls it right away and hands over its result."
        )

    def check_created(self, response: httpx.Response, email: str, name: str) -> None:
        assert response.status_code == 201, (
            f"POST /signup for {email} answered {response.status_code}: {response.text[:200]}. "
            "A new signup answers 201 Created."
        )
        assert response.json() == {"email": email, "name": name}, (
            f"POST /signup for {email} answered {response.json()!r}; expected "
            f"{ {'email': email, 'name': name}!r} (a SignupOut)."
        )


async def test_signup_answers_at_once_and_the_email_goes_out_after(deadline) -> None:
    service = Service(deadline)
    email = "ada@example.com"
    response = await service.signup(email, "Ada")
    service.check_created(response, email, "Ada")
    journal = service.journal
    sent_at = journal.when(f"response to {email} sent")
    assert sent_at is not None, f"No response was sent. {journal.story()}."
    if journal.index(f"email to {email} sent") is not None:
        assert journal.index(f"response to {email} sent") < journal.index(
            f"email to {email} sent"
        ), (
            "The welcome email was sent before the response: the client waited "
            f"{sent_at:g} s for it. {journal.story()}. Don't await the email in the "
            "endpoint: add it to BackgroundTasks, which runs it after the response."
        )
    assert sent_at == 0, (
        f"The response to the signup was sent after {sent_at:g} s of loop time; it should "
        f"go out at once (0 s). {journal.story()}. Leave the slow work to background tasks."
    )
    assert service.mailer.attempts, (
        f"No welcome email was ever sent. {journal.story()}. Add the job with "
        "background_tasks.add_task(...) (and if you return a Response yourself, one built "
        "with its own background= replaces the tasks you added)."
    )
    assert service.mailer.attempts[0] == (email, "Welcome, Ada!"), (
        f"The welcome email was sent as mailer.send{service.mailer.attempts[0]!r}; expected "
        f"mailer.send({email!r}, 'Welcome, Ada!'). Check the arguments you give add_task: "
        "they are passed to the function in that order."
    )
    over = journal.index(f"request of {email} over")
    email_sent = journal.first_email_sent()
    story = journal.story()
    for _ in range(10):  # let a job that runs outside the request finish before the test ends
        await asyncio.sleep(SEND_SECONDS)
    assert email_sent is not None and over is not None and email_sent < over, (
        f"The request was over before its welcome email was sent: {story}. The email ran "
        "outside the request, as with asyncio.create_task. Add it with "
        "background_tasks.add_task(...): the server runs it after the response, as part "
        "of the same request."
    )
    assert journal.when(f"email to {email} sent") == SEND_SECONDS, (
        f"The welcome email should be sent {SEND_SECONDS} s after the signup (one attempt, "
        f"right after the response). {journal.story()}."
    )


async def test_the_request_lasts_until_its_background_work_is_done(deadline) -> None:
    service = Service(deadline)
    email = "grace@example.com"
    response = await service.signup(email, "Grace")
    service.check_created(response, email, "Grace")
    journal = service.journal
    over = journal.index(f"request of {email} over")
    email_sent = journal.first_email_sent()
    audit_written = journal.index(f"audit 'signup {email}' written")
    story = journal.story()
    for _ in range(10):  # let a job that runs outside the request finish before the test ends
        await asyncio.sleep(SEND_SECONDS)
    assert email_sent is not None and over is not None and email_sent < over, (
        f"The request was over before its welcome email was sent: {story}. The email ran "
        "outside the request, as with asyncio.create_task: the server does not wait for "
        "such a task when it shuts down, nobody sees its errors, and without a reference "
        "it can vanish halfway. Add it with background_tasks.add_task(...): the server "
        "runs it after the response, as part of the same request."
    )
    assert audit_written is not None and audit_written < over, (
        f"The request was over before the signup was written to the audit log: {story}. "
        "Add record_signup with background_tasks.add_task(...), so it runs as part of "
        "the request, after the response."
    )


async def test_each_signup_gets_its_own_welcome_email(deadline) -> None:
    service = Service(deadline)
    people = [("zoe.oneil@example.org", "Zoë O'Neil"), ("li.lei@example.cn", "李雷")]
    expected = [(email, f"Welcome, {name}!") for email, name in people]
    for email, name in people:
        response = await service.signup(email, name)
        service.check_created(response, email, name)
    addresses = [to for to, _ in service.mailer.sent]
    assert not any(addresses.count(to) > 1 for to in addresses), (
        f"After two signups the mailer sent {service.mailer.sent}: one person got the "
        "welcome email twice. Old jobs ran again: is one BackgroundTasks object, or one "
        "list of jobs, shared between requests? Take it as a parameter of the endpoint: "
        "FastAPI gives each request its own."
    )
    assert service.mailer.sent == expected, (
        f"After two signups the mailer sent {service.mailer.sent}; expected exactly "
        f"{expected}: one email per signup, to its address, with the subject "
        "f'Welcome, {name}!'. Pass the task its arguments: add_task(func, arg1, arg2, ...)."
    )
    assert service.audit.lines == [f"signup {email}" for email, _ in people], (
        f"After two signups the audit log holds {service.audit.lines}; expected one line "
        "'signup <email>' per signup, in order."
    )


async def test_the_audit_line_is_written_in_a_worker_thread_after_the_response(
    deadline,
) -> None:
    service = Service(deadline)
    email = "linus@example.com"
    response = await service.signup(email, "Linus")
    service.check_created(response, email, "Linus")
    journal = service.journal
    assert not service.audit.on_the_loop, (
        "audit.write ran on the event loop's thread, blocking every other request. Keep "
        "record_signup a plain def: FastAPI runs a plain-def background task in its "
        "thread pool."
    )
    assert service.audit.lines == [f"signup {email}"], (
        f"The audit log holds {service.audit.lines}; expected ['signup {email}']. "
        f"{journal.story()}."
    )
    sent = journal.index(f"response to {email} sent")
    written = journal.index(f"audit 'signup {email}' written")
    assert sent is not None and written is not None and sent < written, (
        f"The audit line was written before the response was sent: {journal.story()}. "
        "Writing it in the endpoint (or awaiting it there, even in a thread) makes the "
        "client wait: add it with background_tasks.add_task(record_signup, ...)."
    )


async def test_a_failed_email_is_retried_once_after_the_delay(deadline) -> None:
    email = "margaret@example.com"
    service = Service(deadline, failures={email: 1})
    response = await service.signup(email, "Margaret")
    service.check_created(response, email, "Margaret")
    journal = service.journal
    starts = [t for t, what in journal.entries if what == f"email to {email} started"]
    expected = [0, SEND_SECONDS + RETRY_DELAY]
    assert len(starts) == 2, (
        f"The first attempt at the email failed; expected exactly one more attempt, but "
        f"the email was tried {len(starts)} time(s) in all. {journal.story()}."
    )
    assert starts == expected, (
        f"The two attempts started at {starts} s; expected {expected}: the first right "
        f"after the response, the second {RETRY_DELAY} s after the first one failed (at "
        f"{SEND_SECONDS} s). Wait with `await asyncio.sleep(RETRY_DELAY)`. {journal.story()}."
    )
    assert service.mailer.sent == [(email, "Welcome, Margaret!")], (
        f"The second attempt should have sent the email; the mailer sent "
        f"{service.mailer.sent}. {journal.story()}."
    )
    assert service.app.state.failed_emails == [], (
        f"The email went out on the second attempt, yet app.state.failed_emails is "
        f"{service.app.state.failed_emails!r}. Record only the emails that failed for good."
    )


async def test_an_email_that_fails_twice_is_recorded_and_the_response_is_unchanged(
    deadline, monkeypatch
) -> None:
    monkeypatch.setattr(signup_api, "RETRY_DELAY", 1.5)  # someone changed the setting
    email = "barbara@example.com"
    service = Service(deadline, failures={email: 2})
    response = await service.signup(email, "Barbara")
    service.check_created(response, email, "Barbara")
    journal = service.journal
    assert journal.when(f"response to {email} sent") == 0, (
        f"The response should go out at once, whatever happens to the email later. "
        f"{journal.story()}."
    )
    assert len(service.mailer.attempts) == 2, (
        f"Both attempts at the email failed; expected exactly 2 attempts (one retry), got "
        f"{len(service.mailer.attempts)}. {journal.story()}."
    )
    starts = [t for t, what in journal.entries if what == f"email to {email} started"]
    assert starts == [0, SEND_SECONDS + 1.5], (
        f"With RETRY_DELAY set to 1.5, the two attempts started at {starts} s; expected "
        f"[0, {SEND_SECONDS + 1.5}]. Wait RETRY_DELAY seconds (read the setting), not a "
        f"number of your own. {journal.story()}."
    )
    failed = service.app.state.failed_emails
    assert failed == [email], (
        f"Both attempts at the email to {email} failed, and app.state.failed_emails is "
        f"{failed!r}; expected [{email!r}]. Append the address to the list the task was "
        "given (the app's own list, not a new one), so someone can follow it up."
    )
    assert service.audit.lines == [f"signup {email}"], (
        f"The email failed, and the audit log holds {service.audit.lines}; expected "
        f"['signup {email}']: a failed email must not stop the other jobs."
    )
    again = await service.signup(email, "Barbara")
    assert again.status_code == 409, (
        f"{email} signed up (201), the welcome email failed, and signing up again answered "
        f"{again.status_code}; expected 409. The signup was accepted: a failed email "
        "does not undo it."
    )


async def test_a_duplicate_signup_is_a_409_with_no_email_and_no_audit_line(deadline) -> None:
    service = Service(deadline)
    first = await service.signup("alan@example.com", "Alan")
    service.check_created(first, "alan@example.com", "Alan")
    again = await service.signup("alan@example.com", "Alan T.")
    assert again.status_code == 409, (
        f"alan@example.com signed up twice; the second POST /signup answered "
        f"{again.status_code}: {again.text[:200]}. Expected 409 Conflict."
    )
    other = await service.signup("joan@example.com", "Joan")
    service.check_created(other, "joan@example.com", "Joan")
    expected = [("alan@example.com", "Welcome, Alan!"), ("joan@example.com", "Welcome, Joan!")]
    assert service.mailer.sent == expected, (
        f"After a signup, a refused duplicate and another signup, the mailer sent "
        f"{service.mailer.sent}; expected {expected}. A refused signup sends nothing: add "
        "the background tasks only once the signup is accepted (tasks of an endpoint that "
        "raises are never run; a task started with asyncio.create_task already runs)."
    )
    assert service.audit.lines == ["signup alan@example.com", "signup joan@example.com"], (
        f"The audit log holds {service.audit.lines}; a refused signup writes nothing."
    )
    async with deadline(120, "two signups of ida@example.com at once"):
        both = await asyncio.gather(
            service.signup("ida@example.com", "Ida"), service.signup("ida@example.com", "Ida")
        )
    statuses = sorted(response.status_code for response in both)
    assert statuses == [201, 409], (
        f"ida@example.com signed up twice at the same moment; the answers were {statuses}, "
        "expected one 201 and one 409. The signup counts from the moment it is accepted, "
        "in the endpoint, not once its email has gone out."
    )
    sent_to_ida = [to for to, _ in service.mailer.sent if to == "ida@example.com"]
    assert len(sent_to_ida) == 1, (
        f"ida@example.com signed up twice at once and got {len(sent_to_ida)} welcome emails; "
        "expected 1."
    )


async def test_each_app_keeps_its_own_signups_and_failures(deadline) -> None:
    email = "katherine@example.com"
    first = Service(deadline, failures={email: 2})
    response = await first.signup(email, "Katherine")
    first.check_created(response, email, "Katherine")
    failed = first.app.state.failed_emails
    assert failed == [email], (
        f"Both attempts at the email to {email} failed, and app.state.failed_emails is "
        f"{failed!r}; expected [{email!r}]."
        + (
            " It holds addresses this app never saw: is the list shared by every app (made "
            "at module level)? Create a new one in create_app."
            if set(failed) - {email}
            else ""
        )
    )
    second = Service(deadline)
    assert second.app.state.failed_emails == [], (
        f"A brand-new app starts with app.state.failed_emails == "
        f"{second.app.state.failed_emails!r}; expected []. Give every app its own list "
        "(create it in create_app), not one shared at module level."
    )
    response = await second.signup(email, "Katherine")
    assert response.status_code == 201, (
        f"{email} signed up on one app, then on a brand-new one, which answered "
        f"{response.status_code}. Every app keeps its own signups: create the store in "
        "create_app, not at module level."
    )
    assert second.mailer.sent == [(email, "Welcome, Katherine!")], (
        f"The new app's mailer sent {second.mailer.sent}."
    )


async def test_many_signups_at_once_each_get_one_email_in_parallel(deadline) -> None:
    service = Service(deadline)
    people = [(f"user{i}@example.com", f"User {i}") for i in range(30)]
    async with deadline(120, "30 signups at once"):
        responses = await asyncio.gather(*(service.signup(e, n) for e, n in people))
    for (email, name), response in zip(people, responses, strict=True):
        service.check_created(response, email, name)
    journal = service.journal
    late = [email for email, _ in people if journal.when(f"response to {email} sent") != 0]
    assert not late, (
        f"Of 30 signups at once, {len(late)} got their response after 0 s (e.g. "
        f"{late[0]} at {journal.when(f'response to {late[0]} sent')} s). Nothing should "
        "hold a response back: no lock, no waiting for other requests' emails."
    )
    expected = sorted((email, f"Welcome, {name}!") for email, name in people)
    assert sorted(service.mailer.sent) == expected, (
        f"30 signups should send 30 emails, one each; the mailer sent "
        f"{len(service.mailer.sent)}, {len(set(service.mailer.sent))} of them different. "
        "Is one BackgroundTasks object, or one list of jobs, shared between requests? "
        "Take it as a parameter of the endpoint: FastAPI gives each request its own."
    )
    done = max(journal.when(f"email to {email} sent") or 0 for email, _ in people)
    assert done == SEND_SECONDS, (
        f"The 30 emails were all sent only after {done:g} s; each request runs its own "
        f"background tasks, so all of them are sent after {SEND_SECONDS} s."
    )
    assert sorted(service.audit.lines) == sorted(f"signup {email}" for email, _ in people), (
        "30 signups should write 30 audit lines, one each."
    )


async def test_a_shutdown_during_the_email_stops_it_cleanly(deadline) -> None:
    service = Service(deadline)
    email = "edsger@example.com"
    request = asyncio.create_task(service.signup(email, "Edsger"))
    await asyncio.sleep(1)  # the response is out, the email is half sent
    if request.done():
        response = await request  # raises the request's own error, if it had one
        service.check_created(response, email, "Edsger")
        pytest.fail(
            f"The request was over within 1 s, though its email takes {SEND_SECONDS} s: "
            f"{service.journal.story()}. Run the email as a background task of the request."
        )
    request.cancel()  # the server shuts down
    async with deadline(60, "the signup request, after it was cancelled"):
        await asyncio.wait([request])
    journal = service.journal
    assert request.cancelled(), (
        "The server cancelled the request while its welcome email was being sent, but "
        f"the request went on and finished: {journal.story()}. The background task "
        "swallowed the CancelledError: catch MailerError (or Exception), never "
        "BaseException or a bare except:, so a cancellation goes through."
    )
    assert service.app.state.failed_emails == [], (
        f"A cancelled email is not a failed one, but app.state.failed_emails is "
        f"{service.app.state.failed_emails!r}. {journal.story()}."
    )
    assert len(service.mailer.attempts) == 1, (
        f"After the cancellation the email was tried again: {journal.story()}. A "
        "cancellation means stop, not retry."
    )
