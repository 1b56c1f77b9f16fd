"""Kata 25 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sysconfig
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any

# anyio loads its asyncio backend on first use (Starlette's StreamingResponse, here),
# which takes a noticeable moment: loaded with this module, no test pays for it.
import anyio._backends._asyncio  # noqa: F401
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from ratelimit_api import FixedWindowLimiter, create_app
from starlette.datastructures import Headers

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

NO_WINDOW = {"max_requests": 10_000, "window": 60.0}  # for the tests of the in-flight limit
NO_CONCURRENCY = {"max_in_flight": 10_000}  # for the tests of the window


class ProbeBug(Exception):
    """What /probe/crash raises: a bug in an endpoint that nobody handles."""


class Probe:
    """Endpoints the tests add to your app, and what they saw.

    Every request the tests send carries an X-Who header ("alice#3": the third request
    of alice). It is only a label for the tests: your code keys on X-API-Key and the
    address. The probe notes which requests reached an endpoint and how many of each
    client's requests were inside an endpoint at once.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []  # labels of the requests that reached an endpoint
        self.running: Counter[str] = Counter()  # client -> its requests inside an endpoint
        self.peak: Counter[str] = Counter()

    def calls_of(self, client: str) -> list[str]:
        return [label for label in self.calls if label.split("#")[0] == client]

    @asynccontextmanager
    async def _inside(self, request: Request) -> AsyncIterator[None]:
        label = request.headers.get("x-who", "?")
        client = label.split("#")[0]
        self.calls.append(label)
        self.running[client] += 1
        self.peak[client] = max(self.peak[client], self.running[client])
        try:
            yield
        except asyncio.CancelledError:
            for _ in range(3):  # stopping the work takes a few turns of the loop
                await asyncio.sleep(0)
            raise
        finally:
            self.running[client] -= 1

    def router(self) -> APIRouter:
        router = APIRouter(prefix="/probe")

        @router.get("/work")
        async def work(request: Request, seconds: float = 0) -> dict[str, str]:
            async with self._inside(request):
                await asyncio.sleep(seconds)
            return {"done": request.headers.get("x-who", "?")}

        @router.get("/other")
        async def other(request: Request) -> dict[str, str]:
            async with self._inside(request):
                await asyncio.sleep(0)
            return {"done": request.headers.get("x-who", "?")}

        @router.get("/crash")
        async def crash(request: Request, seconds: float = 0.5) -> dict[str, str]:
            async with self._inside(request):
                await asyncio.sleep(seconds)
            raise ProbeBug("the endpoint has a bug")

        @router.get("/stream")
        async def stream(request: Request, chunks: int = 4, every: float = 1) -> StreamingResponse:
            async with self._inside(request):
                pass

            async def lines() -> AsyncIterator[str]:
                for i in range(chunks):
                    await asyncio.sleep(every)  # the body trickles out, one line a second
                    yield f"line {i}\n"

            return StreamingResponse(lines(), media_type="text/plain")

        return router


class Watch:
    """Wraps the app like a server would, and notes when each request got its answer.

    With httpx.ASGITransport, `await client.get(...)` returns once the whole body is
    out; the moment the app *started* the response (its status line) is noted here. It
    also draws each request on the timeline the checker shows: what was let in, what was
    turned away, and when. Like a real client, every request comes from a port of its
    own: a client is its address, whatever the port.
    """

    def __init__(self, app: Any, drawn: Any, loop: asyncio.AbstractEventLoop, t0: float) -> None:
        self.app = app
        self.drawn = drawn  # the `timeline` fixture, or None
        self.loop = loop
        self.t0 = t0
        self.answered: dict[str, tuple[float, int]] = {}  # label -> (when, status)
        self.ports = itertools.count(50000)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("client"):
            scope = {**scope, "client": (scope["client"][0], next(self.ports))}
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        label = Headers(scope=scope).get("x-who", "?")
        status: int | None = None

        async def noting_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self.answered[label] = (self.loop.time() - self.t0, status)
            await send(message)

        if self.drawn is None:
            await self.app(scope, receive, noting_send)
            return
        with self.drawn.span(label):
            span = self.drawn.spans[-1]
            try:
                await self.app(scope, receive, noting_send)
            finally:
                span.name = f"{label} → {status if status is not None else 'cancelled'}"


class FakeWebSocket:
    """One WebSocket connection to the app, spoken in raw ASGI messages, as a server does.

    (httpx has no WebSocket client; this is all a test needs.) The endpoint the tests
    add at /probe/ws accepts and echoes every text message.
    """

    def __init__(self, app: Any, key: str, address: str) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": "/probe/ws",
            "raw_path": b"/probe/ws",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"test"), (b"x-api-key", key.encode())],
            "client": (address, 40000),
            "server": ("test", 80),
            "subprotocols": [],
        }
        self.task = asyncio.create_task(app(scope, self.to_app.get, self.from_app.put))

    async def connect(self) -> dict[str, Any]:
        await self.to_app.put({"type": "websocket.connect"})
        return await self.from_app.get()

    async def echo(self, text: str) -> dict[str, Any]:
        await self.to_app.put({"type": "websocket.receive", "text": text})
        return await self.from_app.get()

    async def close(self) -> None:
        await self.to_app.put({"type": "websocket.disconnect", "code": 1000})
        await self.task


_LIBRARIES = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")})


def your_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback of an error raised in the app, without the frames inside httpx,
    Starlette and FastAPI (dozens of them): the report shows the tests and your code."""
    kept = []
    tb = tb.tb_next if tb is not None else None  # this frame is added again by `raise`
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_LIBRARIES):
            kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for entry in reversed(kept):
        trimmed = TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


class Service:
    """Your create_app(**limits) plus the probe endpoints, started like a server would.

    `get(...)` sends one request as a given client: `key` becomes the X-API-Key header,
    `address` the client's address (scope["client"]). Times are in seconds of
    event-loop time since the service started (`at(t)` waits until then).
    """

    def __init__(self, deadline: Deadline, drawn: Any = None, **limits: Any) -> None:
        self.deadline = deadline
        self.drawn = drawn
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.app: FastAPI = create_app(**limits)
        self.probe = Probe()
        self.app.include_router(self.probe.router())
        self.counters: Counter[str] = Counter()
        self._clients: dict[tuple[Any, bool], httpx.AsyncClient] = {}

    async def __aenter__(self) -> Service:
        self.manager = LifespanManager(self.app)
        try:
            await self.manager.__aenter__()
        except NotImplementedError:
            raise
        except Exception as exc:
            cause = exc.__cause__ or exc
            pytest.fail(
                f"The app could not start: {type(cause).__name__}: {cause}. A server first "
                'sends the app a "lifespan" scope (startup and shutdown), which has no '
                "headers and no client. A pure ASGI middleware handles only "
                'scope["type"] == "http" and passes every other scope straight on to '
                "self.app."
            )
        self.watch = Watch(self.manager.app, self.drawn, self.loop, self.t0)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for client in self._clients.values():
            await client.aclose()
        await self.manager.__aexit__(*exc_info)

    def now(self) -> float:
        return self.loop.time() - self.t0

    async def at(self, t: float) -> None:
        """Wait until `t` seconds after the start."""
        await asyncio.sleep(max(0.0, t - self.now()))

    def _client(self, address: Any, raise_errors: bool) -> httpx.AsyncClient:
        if (address, raise_errors) not in self._clients:
            transport = httpx.ASGITransport(
                app=self.watch,
                raise_app_exceptions=raise_errors,
                client=None if address is None else (address, 50000),
            )
            self._clients[address, raise_errors] = httpx.AsyncClient(
                transport=transport, base_url="http://test"
            )
        return self._clients[address, raise_errors]

    async def get(
        self,
        who: str,
        path: str = "/probe/work",
        *,
        seconds: float = 0,
        key: str | None = None,
        address: str | None = "10.0.0.1",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET path as client `who` (labelled "who#n" for its n-th request)."""
        self.counters[who] += 1
        label = f"{who}#{self.counters[who]}"
        sent = {"x-who": label, **(headers or {})}
        if key is not None:
            sent["X-API-Key"] = key
        if path == "/probe/work":
            path = f"{path}?seconds={seconds:g}"
        client = self._client(address, raise_errors=not path.startswith("/probe/crash"))
        try:
            async with self.deadline(120, f"GET {path} by {who}"):
                response = await client.get(path, headers=sent)
        except Exception as exc:  # the app's own error, raised again as it is
            raise exc.with_traceback(your_frames(exc.__traceback__)) from None
        response.label = label  # type: ignore[attr-defined]
        return response

    async def burst(self, who: str, count: int, **kwargs: Any) -> list[httpx.Response]:
        """`count` requests of `who`, all sent at the same moment."""
        async with self.deadline(120, f"{count} requests of {who} at once"):
            return list(await asyncio.gather(*(self.get(who, **kwargs) for _ in range(count))))

    def answered_at(self, response: httpx.Response) -> float:
        return self.watch.answered[response.label][0]  # type: ignore[attr-defined]

    def in_flight(self) -> dict[str, int]:
        state = getattr(self.app.state, "in_flight", None)
        assert isinstance(state, dict), (
            f"app.state.in_flight is {state!r}; create_app should set it to the dict the "
            "middleware counts in (client key -> requests in flight)."
        )
        return dict(state)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return [r.status_code for r in responses]


def check_429(response: httpx.Response, what: str, retry_after: str, why: str = "") -> None:
    """A 429 with the right Retry-After and a JSON error body."""
    code = response.status_code
    if code != 429:
        if code < 400:
            problem = f"It was let in. {why}".rstrip()
        elif code in (400, 503):
            problem = (
                "The client asked too much: that is 429 Too Many Requests, not the "
                "server's fault (503) nor a malformed request (400)."
            )
        else:
            problem = "Expected 429 Too Many Requests."
        pytest.fail(f"{what} was answered {code}: {response.text[:200]}. Expected 429. {problem}")
    got = response.headers.get("retry-after")
    assert got is not None, (
        f"{what} was answered 429 without a Retry-After header (headers: "
        f"{dict(response.headers)}). It tells the client how many seconds to wait: "
        "without it, clients retry at once, in a tight loop."
    )
    if got != retry_after:
        if not got.isdigit():
            tip = "Retry-After is a whole number of seconds: round the time left up (math.ceil)."
        elif got == "0":
            tip = "Never 0: round the time left up (math.ceil), so it is at least 1."
        elif retry_after == "1":
            tip = "Over the in-flight limit, Retry-After is always 1."
        elif int(got) < int(retry_after):
            tip = (
                "Round the time left up (math.ceil), never down: else the client comes back "
                "too early."
            )
        else:
            tip = (
                "It counts down to the end of the client's window: its start (the client's "
                "first request let in, not its latest one, nor one turned away) plus the "
                "window length, minus now, on the event loop's clock "
                "(asyncio.get_running_loop().time(): these tests run it on a virtual clock "
                "that time.time() and time.monotonic() don't follow)."
            )
        pytest.fail(
            f"{what} was answered 429 with Retry-After: {got!r}; expected {retry_after!r}. {tip}"
        )
    assert response.headers.get("content-type", "").startswith("application/json"), (
        f"{what} was answered 429 with content-type "
        f"{response.headers.get('content-type')!r} and body {response.text[:200]!r}; every "
        'error of this API is JSON: {"detail": "..."}.'
    )
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), (
        f"{what} was answered 429 with the body {body!r}; expected a JSON object with a "
        '"detail" message, like every other error of a FastAPI app.'
    )


def check_idle(service: Service, what: str) -> None:
    """Nothing in flight: app.state.in_flight must be empty."""
    state = service.in_flight()
    if not state:
        return
    if any(count < 0 for count in state.values()):
        pytest.fail(
            f"{what}, and app.state.in_flight is {state}: a count went below 0. A slot was "
            "given back more than once (in an `except` and again in `finally`, say), and "
            "now the client gets more than its limit. Give it back exactly once, in `finally`."
        )
    if all(count == 0 for count in state.values()):
        pytest.fail(
            f"{what}, and app.state.in_flight is still {state if len(state) < 4 else len(state)}"
            f"{'' if len(state) < 4 else ' entries at 0'}. A server meets millions of clients: "
            "delete a client's entry when its count gets back to 0, or the dict grows forever."
        )
    pytest.fail(
        f"{what}, yet app.state.in_flight is {state}: slots were never given back. Give the "
        "slot back in `finally`: an error skips any line after `await self.app(...)`, and "
        "a cancel (CancelledError, a BaseException) skips `except Exception` too."
    )


def check_ok(response: httpx.Response, what: str, why: str = "") -> None:
    assert response.status_code == 200, (
        f"{what} was answered {response.status_code} (Retry-After: "
        f"{response.headers.get('retry-after')}): {response.text[:200]}. Expected 200. {why}"
    ).rstrip()


# --- Part 1: at most N requests of one client in flight -----------------------------


async def test_one_client_gets_n_requests_in_flight_and_a_429_at_once_for_more(
    deadline, timeline
) -> None:
    async with Service(deadline, timeline, max_in_flight=3, **NO_WINDOW) as service:
        responses = await service.burst("alice", 8, seconds=5, key="alice-key")
        codes = statuses(responses)
        if codes.count(200) == 8:
            last = max(service.answered_at(r) for r in responses)
            pytest.fail(
                f"alice sent 8 requests at once with a limit of 3 in flight, and all 8 were "
                f"answered 200, the last one after {last:g} s. "
                + (
                    "The extra requests waited for a free slot (as `async with semaphore` "
                    "does): a rate limiter never makes a request wait, it answers 429 at once."
                    if last > 5
                    else "There is no limit: count each client's requests in flight."
                )
            )
        assert sorted(codes) == [200] * 3 + [429] * 5, (
            f"alice sent 8 requests at once with a limit of 3 in flight; the answers were "
            f"{codes}. Expected exactly 3 × 200 and 5 × 429: 3 allowed, the 4th turned away."
            + (
                " The client asked too much: that is 429 Too Many Requests, not the server's "
                "fault (503) nor a malformed request (400)."
                if {400, 503} & set(codes)
                else ""
            )
        )
        for response in responses:
            if response.status_code == 429:
                check_429(response, "A request over the in-flight limit", retry_after="1")
                when = service.answered_at(response)
                assert when == 0, (
                    f"A request over the limit was answered 429 only after {when:g} s. Turn "
                    "it away at once: don't wait for a slot."
                )
        assert len(service.probe.calls_of("alice")) == 3, (
            f"Of alice's 8 requests, {len(service.probe.calls_of('alice'))} reached the "
            "endpoint; expected 3. A request answered 429 must not run the endpoint at all "
            "(send the 429 instead of calling the app, not after it)."
        )
        assert service.probe.peak["alice"] == 3, (
            f"At most {service.probe.peak['alice']} of alice's requests were running at once; "
            "expected 3."
        )
        assert service.now() == 5, (
            f"The 3 requests let in should run side by side and all be done at 5 s; the "
            f"burst took {service.now():g} s."
        )


async def test_a_slot_comes_back_as_soon_as_a_request_is_over(deadline) -> None:
    async with Service(deadline, max_in_flight=3, **NO_WINDOW) as service:

        async def later(t: float, seconds: float) -> httpx.Response:
            await service.at(t)
            return await service.get("bob", seconds=seconds, key="bob-key")

        async with deadline(120, "bob's requests"):
            first = [asyncio.create_task(later(t, 5)) for t in (0, 1, 2)]
            await service.at(3)
            fourth = await service.get("bob", seconds=5, key="bob-key")
            check_429(fourth, "bob's 4th request, with 3 in flight", retry_after="1")
            assert list(service.in_flight().values()) == [3], (
                f"bob has 3 requests in flight, and app.state.in_flight is "
                f"{service.in_flight()}; expected one entry (bob's) with the count 3."
            )
            await service.at(5.5)  # bob's first request ended at 5 s
            fifth = asyncio.create_task(later(5.5, 2))
            await service.at(5.75)
            sixth = await service.get("bob", seconds=1, key="bob-key")
            check_429(sixth, "bob's 6th request at 5.75 s (3 in flight: 1 s, 2 s and 5.5 s)", "1")
            check_ok(
                await fifth,
                "bob's request at 5.5 s, after his first one had ended at 5 s",
                "When a request is over, its slot must be free again at once.",
            )
            for task in first:
                check_ok(await task, "bob's requests at 0 s, 1 s and 2 s")
        assert service.now() == 7.5, f"bob's requests were done at {service.now():g} s, not 7.5 s."
        check_idle(service, "Every one of bob's requests is over")
        again = await service.burst("bob", 4, seconds=1, key="bob-key")
        assert sorted(statuses(again)) == [200, 200, 200, 429], (
            f"With nothing in flight, 4 requests of bob at once were answered "
            f"{statuses(again)}; expected 3 × 200 and 1 × 429. Each request must take "
            "exactly one slot and give exactly that one back."
        )


async def test_other_clients_are_never_limited_by_one_busy_client(deadline) -> None:
    async with Service(deadline, max_in_flight=2, **NO_WINDOW) as service:
        async with deadline(120, "four clients at once"):
            alice, bob, carol, dave = await asyncio.gather(
                service.burst("alice", 6, seconds=5, key="alice-key", address="10.0.0.1"),
                service.burst("bob", 2, seconds=5, key="bob-key", address="10.0.0.1"),
                service.burst("carol", 2, seconds=5, address="10.0.0.7"),
                service.burst("dave", 2, seconds=5, address="10.0.0.8"),
            )
        for name, responses in (("bob", bob), ("carol", carol), ("dave", dave)):
            assert statuses(responses) == [200, 200], (
                f"alice had 2 requests in flight (her limit) and sent 4 more; {name}, another "
                f"client, sent 2 at the same time and got {statuses(responses)}. One client's "
                "traffic must never limit another's: keep one count per client (its API "
                "key, or else its address), not one for everybody, and not one per path."
            )
        assert sorted(statuses(alice)) == [200] * 2 + [429] * 4, (
            f"alice's 6 requests at once got {statuses(alice)}; expected 2 × 200, 4 × 429."
        )
        assert service.now() == 5, (
            f"All the requests let in should run side by side and be done at 5 s, not at "
            f"{service.now():g} s: nobody waits for anybody."
        )
        check_idle(service, "Every request is over")


async def test_a_request_that_fails_gives_its_slot_back_once(deadline) -> None:
    async with Service(deadline, max_in_flight=2, **NO_WINDOW) as service:
        for i in range(5):
            crashed = await service.get("alice", "/probe/crash", key="alice-key")
            assert crashed.status_code == 500, (
                f"alice's request #{i + 1} to an endpoint that raises was answered "
                f"{crashed.status_code} (Retry-After: {crashed.headers.get('retry-after')}); "
                "expected 500. "
                + (
                    "Her earlier failed requests kept their slots: give the slot back in "
                    "`finally`, so it comes back however the request ends."
                    if crashed.status_code == 429
                    else "Let the endpoint's error go on up: it is not yours to handle."
                )
            )
        check_idle(service, "alice's 5 failed requests are over")
        responses = await service.burst("alice", 3, seconds=1, key="alice-key")
        assert sorted(statuses(responses)) == [200, 200, 429], (
            f"After 5 failed requests, 3 requests of alice at once (limit 2) were answered "
            f"{statuses(responses)}; expected 2 × 200 and 1 × 429. "
            + (
                "A failed request gave its slot back twice (in an `except` and again "
                "after it), so the count went below 0 and lets too many in."
                if statuses(responses).count(200) > 2
                else ""
            )
        )

        async with deadline(120, "a failure next to a request in flight"):
            slow = asyncio.create_task(service.get("alice", seconds=5, key="alice-key"))
            await service.at(service.now() + 1)
            crashed = await service.get("alice", "/probe/crash", key="alice-key")
            assert crashed.status_code == 500, f"expected 500, got {crashed.status_code}"
            assert list(service.in_flight().values()) == [1], (
                f"alice has 1 request in flight, and another one of hers just failed; "
                f"app.state.in_flight is {service.in_flight()}: expected alice's count at 1. "
                "The failed request gives back its own slot, not every slot of the client."
            )
            both = await service.burst("alice", 2, seconds=1, key="alice-key")
            assert sorted(statuses(both)) == [200, 429], (
                f"alice had 1 request in flight (limit 2) and one had just failed; 2 more at "
                f"once got {statuses(both)}: expected one 200 and one 429."
            )
            check_ok(await slow, "alice's slow request")


async def test_a_cancelled_request_gives_its_slot_back(deadline) -> None:
    async with Service(deadline, max_in_flight=2, **NO_WINDOW) as service:
        async with deadline(120, "alice's requests, one of them cancelled"):
            first = asyncio.create_task(service.get("alice", seconds=10, address="10.0.0.3"))
            second = asyncio.create_task(service.get("alice", seconds=10, address="10.0.0.3"))
            await service.at(1)
            first.cancel()  # the client went away; the server cancels the request
            await asyncio.wait([first])
            assert list(service.in_flight().values()) == [1], (
                f"One of alice's 2 requests in flight was cancelled; app.state.in_flight is "
                f"now {service.in_flight()}: expected alice's count at 1. A cancel is a "
                "BaseException (CancelledError): `except Exception` never sees it, `finally` "
                "does. Give the slot back in `finally`."
            )
            third = asyncio.create_task(service.get("alice", seconds=1, address="10.0.0.3"))
            await asyncio.sleep(0.5)
            fourth = await service.get("alice", seconds=1, address="10.0.0.3")
            check_429(fourth, "alice's request at 1.5 s, with 2 in flight", retry_after="1")
            check_ok(
                await third,
                "alice's request at 1 s, right after one of her 2 requests was cancelled",
                "A cancelled request must give its slot back.",
            )
            check_ok(await second, "alice's other request")
        assert first.cancelled(), (
            "alice's request was cancelled at 1 s, but it did not end as cancelled: "
            "something caught the CancelledError and did not raise it again. Give the slot "
            "back in `finally` and catch nothing: a cancel must go on up."
        )
        check_idle(service, "Every request is over, one of them cancelled")


async def test_a_streamed_response_is_in_flight_until_its_last_line_is_sent(deadline) -> None:
    async with Service(deadline, max_in_flight=1, **NO_WINDOW) as service:
        async with deadline(120, "a streamed response"):
            stream = asyncio.create_task(
                service.get("alice", "/probe/stream?chunks=4&every=1", key="alice-key")
            )
            await service.at(2)  # the endpoint returned at 0; the body is still being sent
            during = await service.get("alice", key="alice-key")
            check_429(
                during,
                "alice's request at 2 s (limit 1; her streamed response, 4 lines at one a "
                "second, was still being sent)",
                retry_after="1",
                why="A request is in flight until its whole response has been sent: a "
                "streamed body goes out after the endpoint has returned. `await self.app(...)` "
                "in a pure ASGI middleware returns only then; `call_next` in an http "
                "middleware returns as soon as the response starts.",
            )
            other = await service.get("bob", key="bob-key")
            check_ok(other, "bob's request while alice's response streamed")
            streamed = await stream
        check_ok(streamed, "alice's streamed request")
        assert streamed.text == "".join(f"line {i}\n" for i in range(4)), (
            f"The streamed body came out as {streamed.text!r}."
        )
        after = await service.get("alice", key="alice-key")
        check_ok(after, "alice's request after her stream had ended")


async def test_a_client_is_its_api_key_or_else_its_address(deadline) -> None:
    async with Service(deadline, max_in_flight=1, **NO_WINDOW) as service:

        async def while_busy(holder: dict[str, Any], checks: list[tuple[str, dict, int]]) -> None:
            busy = asyncio.create_task(service.get("holder", seconds=5, **holder))
            await asyncio.sleep(1)
            for what, how, expected in checks:
                path = how.get("path", "/probe/work")
                sent = {k: v for k, v in how.items() if k != "path"}
                response = await service.get("probe", path, **sent)
                assert response.status_code == expected, (
                    f"A client holds its 1 slot ({holder}); then {what} ({how}) was answered "
                    f"{response.status_code}, expected {expected}. "
                    + (
                        "That request is the same client and must be turned away."
                        if expected == 429
                        else "That request is another client and must go through."
                    )
                    + " A client is its X-API-Key (any spelling of the header's name, the "
                    "key's value exactly as sent); without a non-empty key, its address, "
                    'scope["client"][0], whatever the port. Never a header the client can '
                    "set freely, like X-Forwarded-For; and a key that looks like an address "
                    "is still a key. One count per client, for every path."
                )
            check_ok(await busy, f"the request that held the slot ({holder})")

        async with deadline(120, "telling clients apart"):
            await while_busy(
                {"key": "Key-A", "address": "10.0.0.1"},
                [
                    (
                        "the same key, to another path",
                        {"key": "Key-A", "address": "10.0.0.1", "path": "/probe/other"},
                        429,
                    ),
                    (
                        "the same key, to /quote",
                        {"key": "Key-A", "address": "10.0.0.1", "path": "/quote"},
                        429,
                    ),
                    (
                        "the same key from another address",
                        {"key": "Key-A", "address": "10.0.0.2"},
                        429,
                    ),
                    (
                        "the same key, header name in lower case",
                        {"headers": {"x-api-key": "Key-A"}, "address": "10.0.0.2"},
                        429,
                    ),
                    (
                        "the same key, header name in capitals",
                        {"headers": {"X-API-KEY": "Key-A"}, "address": "10.0.0.2"},
                        429,
                    ),
                    (
                        "another key: 'key-a' in lower case",
                        {"key": "key-a", "address": "10.0.0.1"},
                        200,
                    ),
                    ("a request with no key from the same address", {"address": "10.0.0.1"}, 200),
                ],
            )
            await while_busy(
                {"address": "10.0.0.3"},
                [
                    ("no key, same address", {"address": "10.0.0.3"}, 429),
                    (
                        "no key, same address, claiming another one in X-Forwarded-For",
                        {"address": "10.0.0.3", "headers": {"X-Forwarded-For": "192.0.2.9"}},
                        429,
                    ),
                    ("an empty X-API-Key, same address", {"key": "", "address": "10.0.0.3"}, 429),
                    ("no key, another address", {"address": "10.0.0.4"}, 200),
                    (
                        "another address sending the key '10.0.0.3'",
                        {"key": "10.0.0.3", "address": "10.0.0.9"},
                        200,
                    ),
                ],
            )
            await while_busy(
                {"address": None},
                [
                    ("no key and no address either (a Unix socket)", {"address": None}, 429),
                    ("no key, an address", {"address": "10.0.0.3"}, 200),
                ],
            )
        check_idle(service, "Every request is over")


async def test_clients_with_nothing_in_flight_leave_nothing_behind(deadline) -> None:
    async with Service(deadline, max_in_flight=2, **NO_WINDOW) as service:
        clients = [f"client-{i}" for i in range(40)]
        async with deadline(120, "40 clients at once"):
            tasks = [asyncio.create_task(service.get(c, seconds=2, key=c)) for c in clients]
            await service.at(1)
            during = service.in_flight()
            assert sorted(during.values()) == [1] * 40, (
                f"40 clients have one request each in flight; app.state.in_flight holds "
                f"{len(during)} entries (counts {sorted(Counter(during.values()).items())}). "
                "Expected one entry per client, each at 1: create_app must put into "
                "app.state.in_flight the very dict the middleware counts in."
            )
            for task in tasks:
                check_ok(await task, "a request of one of 40 clients")
        check_idle(service, "All 40 clients are done")


async def check_websocket(service: Service, socket: FakeWebSocket, busy: asyncio.Task) -> None:
    """alice has 1 HTTP request in flight (`busy`, her limit) and opens `socket`."""
    first = await socket.connect()
    assert first.get("type") == "websocket.accept", (
        f"alice had 1 HTTP request in flight (her limit) and opened a WebSocket; the "
        f"app answered {first}, expected it to accept. The in-flight limit is for "
        'HTTP requests: any other scope (scope["type"] "websocket", "lifespan") '
        "passes straight through to self.app, uncounted."
    )
    reply = await socket.echo("hello")
    assert reply == {"type": "websocket.send", "text": "hello"}, (
        f"The WebSocket echo answered {reply}."
    )
    check_ok(await busy, "alice's HTTP request")
    check_ok(
        await service.get("alice", key="alice-key"),
        "alice's HTTP request while her WebSocket was open (limit 1)",
        "An open WebSocket is not a request in flight: don't count it.",
    )
    await socket.close()


async def test_websockets_pass_through_untouched(deadline) -> None:
    async with Service(deadline, max_in_flight=1, **NO_WINDOW) as service:

        async def echo(websocket: WebSocket) -> None:
            await websocket.accept()
            with contextlib.suppress(WebSocketDisconnect):
                while True:
                    await websocket.send_text(await websocket.receive_text())

        service.app.router.add_websocket_route("/probe/ws", echo)
        async with deadline(120, "a WebSocket next to HTTP requests"):
            busy = asyncio.create_task(service.get("alice", seconds=5, key="alice-key"))
            await service.at(1)
            socket = FakeWebSocket(service.watch, key="alice-key", address="10.0.0.1")
            try:
                await check_websocket(service, socket, busy)
            finally:
                if not socket.task.done():
                    socket.task.cancel()
                await asyncio.wait([socket.task])
        check_idle(service, "Every request is over and the WebSocket closed")


# --- Part 2: at most M requests of one client per window of W seconds ---------------


async def test_the_window_lets_m_requests_in_then_says_when_to_come_back(
    deadline, timeline
) -> None:
    async with Service(
        deadline, timeline, max_requests=4, window=10.0, **NO_CONCURRENCY
    ) as service:
        for i in range(4):
            check_ok(await service.get("alice", key="alice-key"), f"alice's request {i + 1} of 4")
        fifth = await service.get("alice", key="alice-key")
        check_429(fifth, "alice's 5th request at 0 s (limit 4 per 10 s)", retry_after="10")
        expected = {2.5: "8", 7: "3", 9.75: "1"}
        for t, retry_after in expected.items():
            await service.at(t)
            response = await service.get("alice", key="alice-key")
            check_429(
                response,
                f"alice's request at {t:g} s (her window opened at 0 s, 10 s long)",
                retry_after,
            )
        await service.at(10)
        response = await service.get("alice", key="alice-key")
        if response.status_code == 429:
            pytest.fail(
                f"At 10 s, a whole window after alice's first request at 0 s, her request "
                f"was still answered 429 (Retry-After: {response.headers.get('retry-after')}). "
                "Her window is over from 10 s on (`now >= start + window`). Does your window "
                "ever end? Read the time from the event loop, "
                "`asyncio.get_running_loop().time()`: these tests run it on a virtual clock, "
                "and the other clocks (time.time(), time.monotonic()) don't follow it."
            )
        check_ok(response, "alice's request at 10 s, when her first window was over")
        for _ in range(3):
            check_ok(await service.get("alice", key="alice-key"), "alice's requests at 10 s")
        check_429(
            await service.get("alice", key="alice-key"),
            "alice's 5th request at 10 s (her second window opened at 10 s)",
            retry_after="10",
        )
        assert len(service.probe.calls_of("alice")) == 8, (
            f"{len(service.probe.calls_of('alice'))} of alice's requests reached the "
            "endpoint; expected 8 (4 per window). A request answered 429 must not run it."
        )


async def test_the_window_opens_with_the_clients_first_request(deadline) -> None:
    async with Service(deadline, max_requests=3, window=10.0, **NO_CONCURRENCY) as service:
        check_ok(await service.get("early", key="early-key"), "another client's request at 0 s")
        for t in (3.5, 5, 8):
            await service.at(t)
            check_ok(await service.get("bob", key="bob-key"), f"bob's request at {t:g} s")
        for t, retry_after in ((9, "5"), (10, "4"), (13.25, "1")):
            await service.at(t)
            check_429(
                await service.get("bob", key="bob-key"),
                f"bob's 4th request, at {t:g} s (his window: the 10 s from his first "
                "request at 3.5 s; not the 10 s from his latest one, nor a slice of the "
                "clock from 0 s, 10 s, 20 s...)",
                retry_after,
            )
        await service.at(13.5)
        check_ok(
            await service.get("bob", key="bob-key"),
            "bob's request at 13.5 s, 10 s after his first one",
        )
        check_ok(await service.get("bob", key="bob-key"), "bob's second request at 13.5 s")


async def test_requests_turned_away_do_not_count(deadline) -> None:
    async with Service(deadline, max_requests=3, window=10.0, **NO_CONCURRENCY) as service:
        for _ in range(3):
            check_ok(await service.get("carol", address="10.0.0.5"), "carol's first 3 requests")
        for i in range(18):
            await service.at(1 + i / 2)
            response = await service.get("carol", address="10.0.0.5")
            check_429(
                response,
                f"carol's request at {1 + i / 2:g} s (3 requests at 0 s, limit 3 per 10 s)",
                retry_after=str(10 - (1 + i // 2)),
            )
        assert len(service.probe.calls_of("carol")) == 3, (
            f"carol sent 21 requests and 18 were answered 429, yet the endpoint ran "
            f"{len(service.probe.calls_of('carol'))} times; expected 3. A request turned "
            "away must not reach the endpoint."
        )
        await service.at(10)
        for i in range(3):
            check_ok(
                await service.get("carol", address="10.0.0.5"),
                f"carol's request {i + 1} at 10 s, when her window was over",
                "The requests turned away don't count, and don't move the window.",
            )


async def test_each_client_has_one_window_for_every_path(deadline) -> None:
    async with Service(deadline, max_requests=3, window=30.0, **NO_CONCURRENCY) as service:
        check_ok(await service.get("alice", key="alice-key"), "alice's request to /probe/work")
        check_ok(await service.get("alice", "/probe/other", key="alice-key"), "alice, /probe/other")
        check_ok(await service.get("alice", "/quote", key="alice-key"), "alice, /quote")
        for path in ("/probe/work", "/probe/other", "/quote"):
            check_429(
                await service.get("alice", path, key="alice-key"),
                f"alice's 4th request (limit 3 per 30 s), to {path}: one window per client, "
                "for every route of the app, not one per path,",
                retry_after="30",
            )
        for path in ("/probe/work", "/probe/other", "/quote"):
            check_ok(
                await service.get("bob", path, key="bob-key"),
                f"bob's request to {path}, after alice had used up her window",
                "Every client has a window of its own.",
            )
        for path in ("/probe/work", "/quote"):
            check_ok(
                await service.get("dave", path, address="10.0.0.8"),
                f"dave's request to {path} (no key, his own address)",
            )


async def test_a_request_turned_away_by_one_limit_uses_nothing_of_the_other(deadline) -> None:
    async with Service(deadline, max_in_flight=2, max_requests=5, window=60.0) as service:
        burst = await service.burst("alice", 5, seconds=2, key="alice-key")
        assert sorted(statuses(burst)) == [200, 200, 429, 429, 429], (
            f"5 requests of alice at once (2 in flight at most, 5 per 60 s) got "
            f"{statuses(burst)}; expected 2 × 200 and 3 × 429."
        )
        for response in burst:
            if response.status_code == 429:
                check_429(response, "a request over the in-flight limit", retry_after="1")
        for i in range(3):
            check_ok(
                await service.get("alice", key="alice-key"),
                f"alice's request {i + 1} of 3 after her burst ({service.now():g} s)",
                "Only 2 of her requests were let in so far; the 3 turned away by the "
                "in-flight limit must not count in her window.",
            )
        check_429(
            await service.get("alice", key="alice-key"),
            f"alice's 6th request let in, at {service.now():g} s (limit 5 per 60 s, her "
            "window opened at 0 s)",
            retry_after="58",
        )
        check_429(
            await service.get("alice", key="alice-key"),
            "alice's next request, turned away by the window again: it must not have "
            "kept a slot of the in-flight limit (that one says Retry-After: 1)",
            retry_after="58",
        )
        check_idle(service, "Every request is over, some turned away by the window")


async def test_clients_whose_window_is_over_are_forgotten(deadline) -> None:
    async with Service(deadline, max_requests=2, window=10.0, **NO_CONCURRENCY) as service:
        limiter = service.app.state.window_limiter
        async with deadline(120, "30 clients"):
            for i in range(30):
                check_ok(await service.get(f"c{i}", key=f"c{i}"), f"client c{i}'s request")
        assert len(limiter) == 30, (
            f"30 clients have an open window, and len(app.state.window_limiter) is "
            f"{len(limiter)}; expected 30."
        )
        await service.at(20)
        check_ok(await service.get("late", key="late"), "a new client's request at 20 s")
        assert len(limiter) == 1, (
            f"At 20 s, the windows of the 30 clients of 0 s have been over for 10 s, and "
            f"a new client came; len(app.state.window_limiter) is {len(limiter)}, expected 1. "
            "Forget the clients whose window is over (sweep them out now and then, at the "
            "latest a whole window after their window ended), or the dict grows with every "
            "client the server ever met."
        )


def test_the_window_limiter_counts_on_the_clock_it_is_given() -> None:
    limiter = FixedWindowLimiter(max_requests=2, window=2.5)
    story: list[str] = []
    for key, now, expected in [
        ("a", 1000.25, 0),
        ("a", 1000.5, 0),
        ("b", 1000.5, 0),
        ("a", 1001.0, 2),  # 1.75 s left of a's window: round up
        ("a", 1002.5, 1),  # 0.25 s left
        ("b", 1002.5, 0),
        ("a", 1002.75, 0),  # a's window (1000.25 + 2.5) is over: a new one opens
        ("b", 1003.0, 0),  # b's window (1000.5 + 2.5) is over at 1003.0 exactly
        ("a", 1004.5, 0),
        ("a", 1005.0, 1),
        ("a", 1005.25, 0),  # a's third window
        ("a", 1005.5, 0),
        ("a", 1005.75, 2),
        ("b", 1005.75, 0),
    ]:
        got = limiter.hit(key, now)
        story.append(f"hit({key!r}, {now:g}) -> {got!r}")
        assert got == expected and isinstance(got, int), (
            f"FixedWindowLimiter(max_requests=2, window=2.5): {'; '.join(story)}; expected "
            f"{expected!r} for the last one. hit gives 0 to let the request in, else the "
            "whole seconds until the client's window ends, rounded up (at least 1). A "
            "window opens with a client's first request and lasts `window` seconds."
        )


async def test_every_app_has_limits_of_its_own(deadline) -> None:
    limits = {"max_in_flight": 1, "max_requests": 2, "window": 10.0}
    own = (
        "Every app made by create_app has limits and counts of its own (made in create_app, "
        "not at module level), with the numbers it was given."
    )
    async with (
        Service(deadline, **limits) as first,
        Service(deadline, **limits) as second,
        Service(deadline, max_in_flight=3, max_requests=4, window=20.0) as third,
    ):
        for _ in range(2):
            check_ok(await first.get("alice", key="alice-key"), "alice's requests to app 1")
        check_429(await first.get("alice", key="alice-key"), "alice's 3rd request to app 1", "10")
        for i in range(2):
            check_ok(
                await second.get("alice", key="alice-key"),
                f"alice's request {i + 1} to app 2 (the same limits as app 1: 2 per 10 s), "
                "after she used up her window on app 1",
                own,
            )
        async with deadline(120, "alice's request in flight on app 1"):
            busy = asyncio.create_task(first.get("bob", seconds=5, key="bob-key"))
            await asyncio.sleep(1)
            check_ok(
                await second.get("bob", key="bob-key"),
                "bob's request to app 2 while he had 1 in flight on app 1 (limit 1 on both)",
                own,
            )
            assert second.in_flight() == {} and list(first.in_flight().values()) == [1], (
                f"bob has 1 request in flight on app 1 and none on app 2; app 1's "
                f"app.state.in_flight is {first.in_flight()} and app 2's is "
                f"{second.in_flight()}. {own}"
            )
            check_ok(await busy, "bob's request to app 1")
        for i in range(4):
            check_ok(
                await third.get("alice", key="alice-key"),
                f"alice's request {i + 1} to app 3 (limit 4 per 20 s)",
                own,
            )
        check_429(await third.get("alice", key="alice-key"), "alice's 5th request to app 3", "20")
        both = await third.burst("bob", 4, seconds=1, key="bob-key")
        assert sorted(statuses(both)) == [200, 200, 200, 429], (
            f"4 requests of bob at once to app 3 (3 in flight at most) got {statuses(both)}."
        )
