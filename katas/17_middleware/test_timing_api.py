"""Kata 17 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import logging
import sysconfig
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any

import httpx
import pytest
import timing_api
from fastapi import APIRouter, FastAPI, HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware
from timing_api import RequestIdMiddleware, create_app

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]
ACCESS_LOG = "timing_api.access"


class EndpointBug(Exception):
    """What the probe endpoint /probe/crash raises: a bug nobody handles."""


def probe_router() -> APIRouter:
    """Endpoints the tests add to your app, to see what your middleware does."""
    router = APIRouter(prefix="/probe")

    @router.get("/sleep")
    async def sleep(seconds: float) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @router.get("/missing")
    async def missing() -> dict[str, str]:
        await asyncio.sleep(0.5)
        raise HTTPException(status_code=404, detail="No such thing")

    @router.get("/crash")
    async def crash() -> dict[str, str]:
        await asyncio.sleep(0.25)
        raise EndpointBug("the endpoint has a bug")

    @router.get("/request-id")
    async def request_id(request: Request) -> dict[str, Any]:
        return {"request_id": getattr(request.state, "request_id", None)}

    return router


def build_app() -> FastAPI:
    """Your create_app(), plus the probe endpoints."""
    app = create_app()
    app.include_router(probe_router())
    return app


# The clocks. `time.perf_counter()` and `time.monotonic()` (and their _ns twins) follow
# the event loop's virtual time here, as `loop.time()` does. The wall clock
# (`time.time()`) follows it too, except that a test can set it back an hour at a given
# moment, as NTP may do to a real server.
_REAL_CLOCKS = {
    name: getattr(time, name)
    for name in ("perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns")
}
ONE_HOUR = 3600.0


class Clocks:
    def __init__(self) -> None:
        self.wall_start = _REAL_CLOCKS["time"]()
        self.set_back_at: float | None = None  # event-loop time of the wall clock's jump

    @staticmethod
    def _virtual() -> float | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        return loop.time() if getattr(loop, "looptime_on", False) else None

    def _follow(self, name: str, offset: float) -> Callable[[], float]:
        def clock() -> float:
            now = self._virtual()
            return _REAL_CLOCKS[name]() if now is None else offset + now

        return clock

    def _follow_ns(self, name: str, offset: float) -> Callable[[], int]:
        def clock() -> int:
            now = self._virtual()
            return _REAL_CLOCKS[name]() if now is None else round((offset + now) * 1e9)

        return clock

    def wall(self) -> float:
        now = self._virtual()
        if now is None:
            return _REAL_CLOCKS["time"]()
        jumped = self.set_back_at is not None and now >= self.set_back_at
        return self.wall_start + now - (ONE_HOUR if jumped else 0.0)

    def wall_ns(self) -> int:
        return round(self.wall() * 1e9)

    def fakes(self) -> dict[str, Callable[[], Any]]:
        return {
            "perf_counter": self._follow("perf_counter", 1000.0),
            "perf_counter_ns": self._follow_ns("perf_counter_ns", 1000.0),
            "monotonic": self._follow("monotonic", 5000.0),
            "monotonic_ns": self._follow_ns("monotonic_ns", 5000.0),
            "time": self.wall,
            "time_ns": self.wall_ns,
        }


@pytest.fixture(autouse=True)
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    fake = Clocks()
    for name, clock in fake.fakes().items():
        monkeypatch.setattr(time, name, clock)
        # `from time import perf_counter` in your module follows the fake clock too.
        for attr, value in list(vars(timing_api).items()):
            if value is _REAL_CLOCKS[name]:
                monkeypatch.setattr(timing_api, attr, clock)
    return fake


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The lines logged on timing_api.access so far."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOG)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == ACCESS_LOG]

    return lines


@asynccontextmanager
async def connect(app: Any, raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


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


async def request(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """GET url; the app's own error is raised again as it is, with a shorter traceback."""
    try:
        return await client.get(url, headers=headers)
    except AttributeError as exc:
        if "request_id" not in str(exc):
            raise exc.with_traceback(your_frames(exc.__traceback__)) from None
        problem = str(exc)
    except Exception as exc:  # the app's own error, raised again as it is
        raise exc.with_traceback(your_frames(exc.__traceback__)) from None
    pytest.fail(
        f"GET {url}: {problem}. Nothing had set request.state.request_id yet when it was "
        "read. RequestIdMiddleware must run before add_process_time (and before the "
        "endpoints): the last middleware added is the outermost, the first to run. Add "
        "RequestIdMiddleware after add_process_time, and store the id in "
        'scope["state"] before you call the app.'
    )


def header(response: httpx.Response, name: str, what: str) -> str:
    value = response.headers.get(name)
    assert value is not None, (
        f"{what} answered {response.status_code} without an {name} header; its headers were "
        f"{dict(response.headers)}. Every response that comes back through your middleware "
        "needs it: 404s and HTTPExceptions too. Set it on the response that call_next "
        "gives back, whatever its status code."
    )
    return value


def process_time(response: httpx.Response, what: str) -> float:
    value = header(response, "X-Process-Time", what)
    try:
        return float(value)
    except ValueError:
        pass
    pytest.fail(
        f"{what} answered with X-Process-Time: {value!r}. It should be a plain decimal "
        'number of seconds, such as "1.5002" or "0.25": str(seconds) will do.'
    )


def check_process_time(response: httpx.Response, expected: float, what: str) -> None:
    took = process_time(response, what)
    if abs(took - expected) <= 0.01:
        return
    said = f"{what} took {expected} seconds, but X-Process-Time said {took}."
    if abs(took - expected * 1000) <= 10:
        pytest.fail(f"{said} That is milliseconds: send the number of seconds.")
    if took < 0 or abs(took - (expected - ONE_HOUR)) <= 1:
        pytest.fail(
            f"{said} The wall clock was set back an hour while the request ran, as NTP may "
            "do on a real server, and your measure followed it: time.time() (or "
            "datetime.now()) is the wall clock. Durations need a monotonic clock that never "
            "goes back: time.perf_counter()."
        )
    if took < expected / 2:
        pytest.fail(
            f"{said} Your clock did not see the time the request spent waiting. In these "
            "tests time.perf_counter() and time.monotonic() follow the event loop's virtual "
            "time; other clocks don't. Measure with time.perf_counter(): time.process_time() "
            "counts only CPU time, and time.time() or datetime.now() read the wall clock, "
            "which can jump."
        )
    pytest.fail(
        f"{said} Measure from the moment the middleware gets the request to the moment "
        "call_next gives back the response, and keep the start in a local variable: "
        "requests run at the same time, and a start time kept anywhere else is "
        "overwritten by the next request."
    )


def request_id(response: httpx.Response, what: str) -> str:
    value = header(response, "X-Request-ID", what)
    assert value, f"{what} answered with an empty X-Request-ID header."
    return value


def check_is_uuid(value: str, what: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        pass
    else:
        return
    pytest.fail(
        f"{what} got the request id {value!r}, which is not a UUID. Make a new one for "
        "every request with str(uuid.uuid4()): unique without any coordination, even "
        "across servers, which a counter is not."
    )


async def test_process_time_measures_the_request_on_a_monotonic_clock(
    clocks: Clocks, looptime, deadline
) -> None:
    clocks.set_back_at = 0.75  # NTP sets the wall clock back an hour, mid-request
    async with connect(build_app()) as client, deadline(60, "GET /slow?seconds=1.5"):
        response = await request(client, "/slow?seconds=1.5")
    assert response.status_code == 200, (
        f"GET /slow?seconds=1.5 answered {response.status_code}: {response.text}. "
        "create_app must include the endpoints of `router`."
    )
    check_process_time(response, 1.5, "GET /slow?seconds=1.5")
    assert looptime == 1.5, (
        f"GET /slow?seconds=1.5 took {float(looptime)} seconds; the endpoint sleeps 1.5."
    )


async def test_process_time_is_per_request_when_requests_overlap(looptime, deadline) -> None:
    # Three requests that overlap: they start at 0, 0.25 and 0.5 seconds.
    plan = [(0.0, 1.5), (0.25, 0.75), (0.5, 0.25)]  # (starts at, endpoint sleeps)

    async def one(client: httpx.AsyncClient, start: float, seconds: float) -> httpx.Response:
        await asyncio.sleep(start)
        return await request(client, f"/probe/sleep?seconds={seconds}")

    async with connect(build_app()) as client, deadline(60, "three overlapping requests"):
        responses = await asyncio.gather(*(one(client, *step) for step in plan))
    took = float(looptime)
    for (start, seconds), response in zip(plan, responses, strict=True):
        what = f"GET /probe/sleep?seconds={seconds}, started at {start} s while others ran,"
        assert response.status_code == 200, f"{what} answered {response.status_code}."
        check_process_time(response, seconds, what)
    assert took == 1.5, (
        f"Three overlapping requests (the longest sleeps 1.5 seconds) took {took} seconds "
        "together. Requests must not wait for each other in your middleware."
    )


async def test_every_response_gets_both_headers_404s_and_422s_too(deadline) -> None:
    cases = [
        ("/no/such/path", 404, 0.0, "a path with no route"),
        ("/probe/missing", 404, 0.5, "an endpoint that raises HTTPException(404) after 0.5 s"),
        ("/items/7", 404, 0.5, "the given read_item, which raises HTTPException(404)"),
        ("/probe/sleep?seconds=soon", 422, 0.0, "a validation error"),
    ]
    async with connect(build_app()) as client:
        for url, status, seconds, why in cases:
            what = f"GET {url} ({why})"
            async with deadline(60, what):
                response = await request(client, url)
            assert response.status_code == status, (
                f"{what} answered {response.status_code}: {response.text}; expected "
                f"{status}. Your middleware must not change the status code."
            )
            check_process_time(response, seconds, what)
            check_is_uuid(request_id(response, what), what)


async def test_an_unhandled_error_goes_on_up_through_the_middleware(deadline) -> None:
    app = build_app()
    raised: list[BaseException] = []
    response = None
    async with connect(app) as client:
        try:
            async with deadline(60, "GET /probe/crash"):
                response = await request(client, "/probe/crash")
        except* EndpointBug as group:  # as it is, or in an ExceptionGroup
            raised.extend(group.exceptions)
        if not raised:
            assert response is not None
            swallowed = "a quiet 200" if response.status_code == 200 else "a response"
            pytest.fail(
                f"GET /probe/crash: the endpoint raised EndpointBug, but your middleware "
                f"turned it into {swallowed} ({response.status_code}: {response.text}). An "
                "unhandled error is not your middleware's: let it go on up (no try/except "
                "around call_next). ServerErrorMiddleware, outside yours, answers 500 and "
                "the server logs the traceback."
            )
        # The app is still fine afterwards.
        async with deadline(60, "GET /probe/sleep?seconds=0.25 after the crash"):
            after = await request(client, "/probe/sleep?seconds=0.25")
        check_process_time(after, 0.25, "GET /probe/sleep?seconds=0.25 after a crash")
        check_is_uuid(request_id(after, "GET /probe/sleep after a crash"), "The next request")
    async with connect(app, raise_app_exceptions=False) as client:
        async with deadline(60, "GET /probe/crash"):
            response = await request(client, "/probe/crash")
    assert response.status_code == 500, (
        f"GET /probe/crash answered {response.status_code}; an unhandled error is a 500."
    )


async def test_request_id_is_a_new_uuid_for_every_request(looptime, deadline) -> None:
    async with connect(build_app()) as client:
        async with deadline(60, "15 requests at the same time"):
            together = await asyncio.gather(
                *(request(client, "/probe/request-id") for _ in range(15))
            )
        one_by_one = []
        for _ in range(3):
            async with deadline(60, "GET /probe/request-id"):
                one_by_one.append(await request(client, "/probe/request-id"))
    ids = []
    for response in [*together, *one_by_one]:
        what = "GET /probe/request-id without an X-Request-ID"
        sent = request_id(response, what)
        check_is_uuid(sent, what)
        seen = response.json().get("request_id")
        assert seen == sent, (
            f"{what}: the endpoint saw request.state.request_id == {seen!r}, but the "
            f"response said X-Request-ID: {sent}. Store the id in the scope's state before "
            "you call the app, and send that same id back."
        )
        ids.append(sent)
    assert len(set(ids)) == len(ids), (
        f"18 requests without an X-Request-ID got only {len(set(ids))} different request "
        "ids. Make a new one for every request, inside __call__: an id made once (at "
        "import, or in __init__) is shared by every request."
    )
    assert looptime == 0, f"18 requests that don't sleep took {float(looptime)} seconds."


@pytest.mark.parametrize(
    "sent", ["checkout-7f3a", "0f4e9c1a-54a9-4f6d-a1e2-111111111111", "ABC 123"]
)
async def test_request_id_from_the_client_is_kept(sent: str, deadline) -> None:
    what = f"GET /whoami with X-Request-ID: {sent}"
    async with connect(build_app()) as client, deadline(60, what):
        response = await request(client, "/whoami", {"X-Request-ID": sent})
    assert response.status_code == 200, f"{what} answered {response.status_code}."
    assert request_id(response, what) == sent, (
        f"{what} answered with X-Request-ID: {response.headers.get('X-Request-ID')}. When "
        "the request brings its own X-Request-ID, keep it (whatever it looks like): it "
        "ties the client's logs to yours."
    )
    assert response.json() == {"request_id": sent}, (
        f"{what}: the endpoint saw {response.json()}; request.state.request_id should be "
        f"{sent!r} too."
    )


async def test_request_id_from_the_client_is_kept_per_request(deadline) -> None:
    sent = [f"client-{n}" for n in range(6)] + [""] * 2  # 2 with an empty header
    async with connect(build_app()) as client, deadline(60, "8 requests at once"):
        responses = await asyncio.gather(
            *(request(client, "/probe/request-id", {"X-Request-ID": s}) for s in sent)
        )
    for given, response in zip(sent, responses, strict=True):
        what = f"GET /probe/request-id with X-Request-ID: {given!r}, among others"
        got = request_id(response, what)
        if given:
            assert got == given, f"{what} answered with X-Request-ID: {got}."
        else:
            check_is_uuid(got, f"{what} (an empty one: make a new id)")
        assert response.json() == {"request_id": got}, (
            f"{what}: the endpoint saw {response.json()}, but the response said {got}."
        )


async def test_access_log_has_one_line_per_request_with_its_request_id(
    access_log, deadline
) -> None:
    calls = [
        ("/probe/sleep?seconds=0.25", "/probe/sleep", 200, "log-ok-1"),
        ("/no/such/path", "/no/such/path", 404, "log-404-2"),
        ("/probe/missing", "/probe/missing", 404, "log-404-3"),
        ("/probe/sleep?seconds=0.5", "/probe/sleep", 200, ""),
    ]
    ids = []
    async with connect(build_app()) as client:
        for url, _, _, given in calls:
            async with deadline(60, f"GET {url}"):
                response = await request(client, url, {"X-Request-ID": given})
            ids.append(request_id(response, f"GET {url}"))
    lines = access_log()
    assert len(lines) == len(calls), (
        f"{len(calls)} requests wrote {len(lines)} lines on the {ACCESS_LOG!r} logger: "
        f"{lines}. add_process_time logs exactly one line per request, at INFO level, on "
        "access_log, after call_next gave back the response."
    )
    for line, (url, path, status, _), rid in zip(lines, calls, ids, strict=True):
        missing = [
            name
            for name, part in [
                ("the method", "GET"),
                ("the path", path),
                ("the status code", str(status)),
                ("the request id", rid),
            ]
            if part not in line
        ]
        assert not missing, (
            f"The access-log line for GET {url} (status {status}, request id {rid}) was "
            f"{line!r}; it lacks {' and '.join(missing)}. "
            + (
                "The request id is request.state.request_id, which RequestIdMiddleware "
                "must have set before add_process_time runs: it must be the outer one."
                if "the request id" in missing
                else ""
            )
        )


def test_request_id_middleware_is_the_outermost() -> None:
    app = create_app()
    # app.user_middleware lists the middleware you added, the outermost first.
    kinds = []
    for entry in app.user_middleware:
        if isinstance(entry.cls, type) and issubclass(entry.cls, RequestIdMiddleware):
            kinds.append("RequestIdMiddleware")
        elif entry.cls is BaseHTTPMiddleware:
            kinds.append('the "http" middleware')
    assert "RequestIdMiddleware" in kinds, (
        f"create_app added these middlewares: {app.user_middleware}, but not "
        "RequestIdMiddleware: add it with app.add_middleware(RequestIdMiddleware)."
    )
    assert 'the "http" middleware' in kinds, (
        f"create_app added these middlewares: {app.user_middleware}, but not "
        'add_process_time: add it with app.middleware("http")(add_process_time).'
    )
    assert kinds.index("RequestIdMiddleware") < kinds.index('the "http" middleware'), (
        "In your app, add_process_time runs first and RequestIdMiddleware inside it, so "
        "add_process_time sees a request that has no request id yet. The last middleware "
        "added is the outermost, the first to run: add RequestIdMiddleware after "
        "add_process_time."
    )


@pytest.mark.parametrize("server_state", ["no state", "lifespan state"])
async def test_request_id_middleware_is_pure_asgi(server_state: str, deadline) -> None:
    seen: dict[str, Any] = {}
    start = {
        "type": "http.response.start",
        "status": 201,
        "headers": [(b"content-type", b"text/plain"), (b"x-custom", b"kept")],
    }
    body = {"type": "http.response.body", "body": b"made", "more_body": False}

    async def inner_app(scope: Any, receive: Any, send: Any) -> None:
        seen["task"] = asyncio.current_task()
        seen["state"] = dict(scope.get("state") or {})
        await send(dict(start, headers=list(start["headers"])))
        await send(dict(body))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/raw",
        "raw_path": b"/raw",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"x-request-id", b"raw-42")],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    if server_state == "lifespan state":
        # A server copies what the app's lifespan yielded into every request's state.
        scope["state"] = {"pool": "the app's pool"}
    async with deadline(60, "RequestIdMiddleware(app)(scope, receive, send)"):
        await RequestIdMiddleware(inner_app)(scope, receive, send)
    assert seen.get("state", {}).get("request_id") == "raw-42", (
        f"The app behind RequestIdMiddleware found {seen.get('state')!r} in "
        'scope["state"]; expected the request id "raw-42" under "request_id". Create '
        'the state dict when the scope has none: scope.setdefault("state", {}).'
    )
    if server_state == "lifespan state":
        assert seen["state"].get("pool") == "the app's pool", (
            f"The request came with the state {{'pool': \"the app's pool\"}}, which the "
            "app's lifespan put there, but the app behind RequestIdMiddleware found "
            f"{seen['state']!r}: the pool is gone. Add the request id to the state dict "
            "the scope already has; make a new one only when it has none "
            '(scope.setdefault("state", {})).'
        )
    assert seen.get("task") is asyncio.current_task(), (
        "RequestIdMiddleware ran the app in a task of its own. A pure ASGI middleware "
        "awaits self.app(scope, receive, send) itself, in the request's own task: no "
        "extra task, no memory stream (that is BaseHTTPMiddleware's way)."
    )
    assert [m.get("type") for m in sent] == ["http.response.start", "http.response.body"], (
        f"RequestIdMiddleware passed on {sent}; expected the app's two messages."
    )
    headers = [(bytes(k).lower(), bytes(v)) for k, v in sent[0].get("headers", [])]
    assert (b"x-request-id", b"raw-42") in headers, (
        f"The response start went out with the headers {headers}: no X-Request-ID: raw-42."
    )
    assert {(b"content-type", b"text/plain"), (b"x-custom", b"kept")} <= set(headers), (
        f"The response start went out with the headers {headers}; the app's own headers "
        "must stay. Add yours with MutableHeaders(scope=message), don't replace the list."
    )
    assert sent[0].get("status") == 201 and sent[1] == body, (
        f"RequestIdMiddleware changed the app's messages: {sent}. Only add the header."
    )


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_request_id_middleware_passes_other_connections_through(kind: str, deadline) -> None:
    scope: dict[str, Any] = {"type": kind, "asgi": {"version": "3.0"}}
    if kind == "websocket":
        scope.update(path="/ws", headers=[(b"x-request-id", b"ws-1")], subprotocols=[])
    original = dict(scope)
    messages = [{"type": f"{kind}.accept"}] if kind == "websocket" else []
    messages.append(
        {"type": f"{kind}.close" if kind == "websocket" else "lifespan.startup.complete"}
    )
    calls: list[dict[str, Any]] = []
    sent: list[Any] = []

    async def inner_app(inner_scope: Any, receive: Any, send: Any) -> None:
        calls.append(dict(inner_scope))
        for message in messages:
            await send(dict(message))

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup" if kind == "lifespan" else "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    async with deadline(60, f"RequestIdMiddleware(app) with a {kind} scope"):
        await RequestIdMiddleware(inner_app)(scope, receive, send)
    assert calls == [original], (
        f"With a {kind} scope, the app behind RequestIdMiddleware was called with "
        f"{calls}; expected one call with the scope untouched ({original}). Pass every "
        'scope whose type is not "http" straight to self.app.'
    )
    assert sent == messages, (
        f"With a {kind} scope, RequestIdMiddleware changed what the app sent: {sent}."
    )
