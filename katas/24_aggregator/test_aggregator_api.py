"""Kata 24 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import fastapi.dependencies.utils
import httpx
import pytest
from aggregator_api import Settings, UpstreamResult, create_app, fetch_upstream, get_client
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

# Each fake upstream is a FastAPI app of its own, at http://<name>.upstream<path>.
PATHS = {
    "profile": "/users/{user_id}",
    "orders": "/users/{user_id}/orders",
    "recommendations": "/users/{user_id}/picks",
    "notifications": "/inbox/{user_id}",
    "billing": "/accounts/{user_id}/balance",
}
THREE = ("profile", "orders", "recommendations")


@dataclass
class Behaviour:
    """How one fake upstream answers.

    fails: None answers `status` (200) with its data after `seconds`; "500" (or "404")
    answers with that status after `seconds`; "connect" refuses the connection at once
    (httpx.ConnectError); "drop" drops the connection after `seconds`, before any answer
    (httpx.ReadError).
    """

    seconds: float = 1.0
    fails: str | None = None
    status: int = 200


@dataclass
class Call:
    """One upstream call, as the fakes saw it (times in loop seconds from the app's start)."""

    upstream: str
    user_id: int
    start: float
    end: float | None = None
    outcome: str = "still running"

    def __str__(self) -> str:
        end = "…" if self.end is None else f"{self.end:g}"
        return f"{self.upstream}({self.user_id}) {self.start:g}–{end} s {self.outcome}"


class Upstreams(httpx.AsyncBaseTransport):
    """The fake upstreams, behind one httpx transport that the app's client is given.

    It routes each request by host to that upstream's FastAPI app (in process, through
    httpx.ASGITransport), or fails it the way its Behaviour says. It keeps every call,
    counts the calls in flight (and the peak), draws each call on the checker's timeline,
    and notes whether the client was closed. A cancelled call takes a few turns of the
    event loop to hang up, like a real connection.
    """

    def __init__(
        self, behaviours: dict[str, Behaviour], drawn: Any = None, label: str = ""
    ) -> None:
        self.behaviours = behaviours
        self.drawn = drawn  # the `timeline` fixture: the checker draws what ran when
        self.label = label
        self.calls: list[Call] = []
        self.in_flight = 0
        self.peak = 0
        self.phase = "created"  # "startup", "serving", "shutdown", "stopped"
        self.limit = 0  # the app's max_in_flight and upstream_timeout, once it is made
        self.timeout = 0.0
        self.clients_made: list[str] = []  # the phase in which each client was made
        self.closes: list[str] = []  # the phase in which the client closed this transport
        # user id -> that user's calls still running when their dashboard's response started
        self.running_at_response: dict[int, list[str]] = {}
        self.loop = asyncio.get_running_loop()
        self.zero = self.loop.time()

    def settings(self, max_in_flight: int = 4, upstream_timeout: float = 1.0) -> Settings:
        urls = {name: f"http://{name}.upstream{PATHS[name]}" for name in self.behaviours}
        return Settings(urls, max_in_flight=max_in_flight, upstream_timeout=upstream_timeout)

    def now(self) -> float:
        return round(self.loop.time() - self.zero, 6)

    def running(self) -> list[Call]:
        return [call for call in self.calls if call.end is None]

    def story(self) -> str:
        return "; ".join(str(call) for call in self.calls) or "no upstream was called"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = (request.url.host or "").removesuffix(".upstream")
        if name not in self.behaviours:
            return httpx.Response(404, json={"detail": f"no upstream at {request.url}"})
        found = re.search(r"\d+", request.url.path)
        call = Call(name, int(found.group()) if found else -1, self.now())
        self.calls.append(call)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        behaviour = self.behaviours[name]
        try:
            with (
                self.drawn.span(f"{self.label}{name}({call.user_id})")
                if self.drawn
                else contextlib.nullcontext()
            ):
                if behaviour.fails == "connect":
                    await asyncio.sleep(0)
                    call.outcome = "refused the connection"
                    raise httpx.ConnectError("Connection refused", request=request)
                if behaviour.fails == "drop":
                    await asyncio.sleep(behaviour.seconds)
                    call.outcome = "dropped the connection"
                    raise httpx.ReadError("Connection reset by peer", request=request)
                request.headers[WHOSE] = str(id(self))  # the upstream app reads its behaviour
                _ALIVE[id(self)] = self
                response = await UPSTREAM_APPS[name].handle_async_request(request)
                call.outcome = f"answered {response.status_code}"
                return response
        except asyncio.CancelledError:
            call.outcome = "cancelled"
            for _ in range(3):  # hanging up takes a few turns
                await asyncio.sleep(0)
            raise
        finally:
            self.in_flight -= 1
            call.end = self.now()

    async def aclose(self) -> None:
        self.closes.append(self.phase)


WHOSE = "x-fake-upstreams"  # which Upstreams a request came through
_ALIVE: weakref.WeakValueDictionary[int, Upstreams] = weakref.WeakValueDictionary()


def upstream_app(name: str) -> FastAPI:
    """One fake upstream: GET its path answers {"source": name, "user_id": ...}, the way
    the Behaviour of the Upstreams the request came through says."""
    app = FastAPI()

    @app.get(PATHS[name])
    async def answer(user_id: int, request: Request) -> Any:
        behaviour = _ALIVE[int(request.headers[WHOSE])].behaviours[name]
        await asyncio.sleep(behaviour.seconds)
        if behaviour.fails in ("500", "404"):
            return JSONResponse(
                {"detail": f"{name} says {behaviour.fails}"}, status_code=int(behaviour.fails)
            )
        return JSONResponse({"source": name, "user_id": user_id}, status_code=behaviour.status)

    return app


# Made once: building a FastAPI app costs more than a whole test here.
UPSTREAM_APPS = {name: httpx.ASGITransport(app=upstream_app(name)) for name in PATHS}


def make_upstreams(drawn: Any = None, label: str = "", **behaviours: Behaviour) -> Upstreams:
    return Upstreams(dict(behaviours), drawn, label)


@pytest.fixture(autouse=True)
def _count_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Note every httpx.AsyncClient made with fake upstreams as its transport, and when."""
    original = httpx.AsyncClient.__init__

    def counting_init(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        transport = kwargs.get("transport")
        if isinstance(transport, Upstreams):
            transport.clients_made.append(transport.phase)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting_init)


@pytest.fixture(autouse=True)
def _plain_dependencies_run_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run plain `def` dependencies on the event loop's thread.

    FastAPI runs them in a worker thread. The virtual clock of these tests can't see
    that thread, and would jump to the next timer while it works; inline, each request
    takes exactly the event-loop time its upstream calls take.
    """

    async def run_inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", run_inline)


class ResponseWatch:
    """Wraps the app like a server would, and notes the upstream calls for the request's
    user that are still running at the moment its response starts."""

    def __init__(self, app: Any, upstreams: Upstreams) -> None:
        self.app = app
        self.upstreams = upstreams

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        found = re.search(r"\d+", scope.get("path", ""))
        user_id = int(found.group()) if found else -1

        async def noting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                running = [str(c) for c in self.upstreams.running() if c.user_id == user_id]
                self.upstreams.running_at_response[user_id] = running
            await send(message)

        await self.app(scope, receive, noting_send)


def only_not_implemented(error: BaseException) -> bool:
    if isinstance(error, BaseExceptionGroup):
        return all(only_not_implemented(e) for e in error.exceptions)
    return isinstance(error, NotImplementedError)


def first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class Aggregator:
    """Your app, started (its lifespan ran), and a client that talks to it."""

    def __init__(
        self, app: FastAPI, client: httpx.AsyncClient, upstreams: Upstreams, deadline: Deadline
    ) -> None:
        self.app = app
        self.client = client
        self.upstreams = upstreams
        self.deadline = deadline

    async def request(self, url: str) -> httpx.Response:
        """GET url; an error escaping your app fails the test with advice."""
        try:
            return await self.client.get(url)
        except Exception as error:
            if only_not_implemented(error):
                raise
            leaf = first_leaf(error)
            if "different event loop" in str(leaf):
                pytest.fail(
                    f"GET {url} failed: {type(leaf).__name__}: {leaf}. Something asyncio "
                    "made (the semaphore, most likely) outlived the event loop that first "
                    "used it: it was made at import time, or in create_app, and an earlier "
                    "test or an earlier startup of the app ran on another loop. Make it in "
                    "the lifespan: every startup gets its own."
                )
            message = (
                f"GET {url} failed: {type(leaf).__name__}: {leaf} escaped from your app, so "
                f"the client got no dashboard at all. The upstreams: {self.upstreams.story()}. "
                "One upstream's failure must not fail the whole request: catch it inside the "
                "call to that upstream (httpx.HTTPError covers refused and dropped "
                'connections and raise_for_status) and report that upstream as "error".'
            )
        pytest.fail(message)

    async def dashboard(self, user_id: int) -> tuple[dict[str, Any], float]:
        """GET /dashboard/{user_id}: its JSON body, and how long it took (loop seconds)."""
        url = f"/dashboard/{user_id}"
        start = self.upstreams.now()
        async with self.deadline(60, f"GET {url}"):
            response = await self.request(url)
        took = round(self.upstreams.now() - start, 3)
        assert response.status_code == 200, (
            f"GET {url} answered {response.status_code}: {response.text[:300]}. The "
            "dashboard always answers 200 with whatever came back, even when every "
            "upstream failed. The upstreams: " + self.upstreams.story()
        )
        running = self.upstreams.running_at_response.get(user_id)
        assert not running, (
            f"GET {url} answered while upstream calls were still running: {running}. "
            "Every call is over (answered, or cancelled and awaited) before the response: "
            "gather or a TaskGroup waits for its tasks; asyncio.timeout cancels the call "
            "and waits for it to end. A task you only cancel() without awaiting, or never "
            "cancel, goes on after the response."
        )
        return response.json(), took


@asynccontextmanager
async def running(
    upstreams: Upstreams, deadline: Deadline, app: FastAPI | None = None, **settings: Any
) -> AsyncIterator[Aggregator]:
    """create_app(settings, upstreams) (or `app`), started with its lifespan, then shut down."""
    made = upstreams.settings(**settings)
    upstreams.limit, upstreams.timeout = made.max_in_flight, made.upstream_timeout
    app = app or create_app(made, upstreams)
    async with AsyncExitStack() as stack:
        upstreams.phase = "startup"
        async with deadline(60, "The app's startup (its lifespan, up to the yield)"):
            manager = await stack.enter_async_context(
                LifespanManager(app, startup_timeout=None, shutdown_timeout=None)
            )
        upstreams.phase = "serving"
        transport = httpx.ASGITransport(app=ResponseWatch(manager.app, upstreams))
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://test")
        )
        yield Aggregator(app, client, upstreams, deadline)
        upstreams.phase = "shutdown"
        async with deadline(60, "The app's shutdown (its lifespan, after the yield)"):
            await stack.aclose()
        upstreams.phase = "stopped"


def expected_data(name: str, user_id: int) -> dict[str, Any]:
    return {"source": name, "user_id": user_id}


def check_dashboard(
    body: dict[str, Any], user_id: int, statuses: dict[str, str], upstreams: Upstreams
) -> None:
    """The body lists every upstream in order, each with its status and its own data."""
    what = f"GET /dashboard/{user_id}"
    story = f"The upstreams: {upstreams.story()}."
    assert body.get("user_id") == user_id, (
        f"{what} answered user_id={body.get('user_id')!r}; expected {user_id}."
    )
    results = body.get("results")
    assert isinstance(results, list), f"{what} answered {body}: no list of results."
    names = [r.get("upstream") for r in results]
    assert names == list(statuses), (
        f"{what} listed the upstreams as {names}; expected {list(statuses)}: one result per "
        "upstream, in the order of Settings.upstreams, whatever order they answered in. "
        "gather gives its results in the order you passed the calls in (so do the tasks "
        "of a TaskGroup, kept in a list); as_completed does not. " + story
    )
    for name in statuses:
        calls = [c for c in upstreams.calls if (c.upstream, c.user_id) == (name, user_id)]
        assert len(calls) == 1, (
            f"{what} called {name} {len(calls)} times; expected once. Each upstream is "
            f"called exactly once per request, and a failure is reported, not retried. {story}"
        )
    for result in results:
        name = result["upstream"]
        want = statuses[name]
        got = result.get("status")
        if got != want:
            because = why(want, got, upstreams.behaviours[name], upstreams.timeout)
            pytest.fail(f"{what}: {name} is {got!r}; expected {want!r}. {because} {story}")
        if want == "ok":
            data = result.get("data")
            if data != expected_data(name, user_id):
                source = data.get("source") if isinstance(data, dict) else None
                hint = (
                    f"That is {source}'s answer: each result must hold its own upstream's "
                    "data (zip the names with the results in the same order)."
                    if source and source != name
                    else f"Expected what {name} answered: {expected_data(name, user_id)}."
                )
                pytest.fail(f"{what}: {name}'s data is {data!r}. {hint} {story}")
        else:
            assert result.get("data") is None, (
                f"{what}: {name} is {want!r}, but its data is {result.get('data')!r}; a "
                "failed upstream has no data (None)."
            )
    complete = all(status == "ok" for status in statuses.values())
    assert body.get("complete") is complete, (
        f"{what} answered complete={body.get('complete')!r} with the statuses "
        f"{[r.get('status') for r in results]}; complete is true only when every upstream "
        "is ok."
    )


def why(want: str, got: str | None, behaviour: Behaviour, timeout: float) -> str:
    if want == "timeout":
        return (
            f"It takes {behaviour.seconds:g} s, longer than upstream_timeout ({timeout:g} s). "
            "Wrap each call in its own `async with asyncio.timeout(...)` with the timeout "
            'from the settings, and turn the TimeoutError into "timeout". (httpx\'s own '
            "timeout= is per network step, not a deadline for the whole call.)"
        )
    if want == "error" and got == "ok":
        return (
            "It failed, and your app reported it as ok. A 4xx or 5xx answer is an error, "
            "not data: response.raise_for_status() raises httpx.HTTPStatusError for it."
        )
    if want == "error":
        return (
            "It failed (a 4xx or 5xx answer, or a connection refused or dropped) within "
            'upstream_timeout: that is "error". "timeout" is only for the timeout that fired.'
        )
    if got == "timeout":
        return (
            f"It answers 200 in {behaviour.seconds:g} s, within upstream_timeout "
            f"({timeout:g} s). Is the timeout the one from the settings? Does it start only "
            "once the call holds its slot (time spent waiting for the semaphore doesn't "
            "count)? Each call gets a timeout of its own, not one for the whole batch."
        )
    return "It answered 200 in time, with its data."


def check_peak(upstreams: Upstreams, expected: int, what: str) -> None:
    """At most max_in_flight calls at once, and exactly `expected` at the busiest moment."""
    limit = upstreams.limit
    assert upstreams.peak <= limit, (
        f"{upstreams.peak} upstream calls were in flight at once during {what}; max_in_flight "
        f"is {limit}. The bound is for the whole app: one asyncio.Semaphore of "
        "max_in_flight slots, made in the lifespan and shared by every request and every "
        "call. A semaphore made in the endpoint (or per call) bounds only itself. "
        + upstreams.story()
    )
    assert upstreams.peak == expected, (
        f"At most {upstreams.peak} upstream calls were in flight at once during {what}; "
        f"expected {expected} (max_in_flight is {limit}). "
        + (
            "Calls were waiting while slots were free: is the semaphore smaller than "
            "max_in_flight (one at module level, or another app's)? "
            if upstreams.peak < expected
            else ""
        )
        + upstreams.story()
    )


def check_took(took: float, expected: float, what: str, why_so: str) -> None:
    assert took == expected, (
        f"{what} took {took:g} s of loop time; expected {expected:g} s. {why_so}"
    )


# -- fan-out ---------------------------------------------------------------------------


async def test_the_dashboard_calls_every_upstream_at_once(deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, **{name: Behaviour(1.0) for name in THREE})
    async with running(upstreams, deadline, upstream_timeout=2.0) as app:
        body, took = await app.dashboard(7)
    check_dashboard(body, 7, dict.fromkeys(THREE, "ok"), upstreams)
    assert sorted((c.upstream, c.user_id) for c in upstreams.calls) == sorted(
        (name, 7) for name in THREE
    ), f"One dashboard should call each upstream once for user 7: {upstreams.story()}."
    check_peak(upstreams, 3, "GET /dashboard/7")
    check_took(
        took,
        1,
        "GET /dashboard/7",
        "Three upstreams of 1 s each, called at the same time, take 1 s"
        + (": you called them one after another." if took == 3 else ".")
        + " Start every call, then await them together (gather or a TaskGroup).",
    )


@pytest.mark.parametrize(
    ("user_id", "seconds"),
    [
        (5, {"profile": 3, "orders": 1, "recommendations": 2}),
        (42, {"profile": 0.5, "orders": 2, "recommendations": 1}),
        (
            8,
            {
                "notifications": 2,
                "billing": 0.25,
                "profile": 1,
                "orders": 1.5,
                "recommendations": 3,
            },
        ),
        (9, {"billing": 0.5}),
    ],
    ids=["three", "three-other-order", "five", "one"],
)
async def test_results_come_in_upstream_order_each_with_its_own_data(
    user_id: int, seconds: dict[str, float], deadline, timeline
) -> None:
    upstreams = make_upstreams(timeline, **{n: Behaviour(s) for n, s in seconds.items()})
    async with running(upstreams, deadline, max_in_flight=8, upstream_timeout=5.0) as app:
        body, took = await app.dashboard(user_id)
    check_dashboard(body, user_id, dict.fromkeys(seconds, "ok"), upstreams)
    check_peak(upstreams, len(seconds), f"GET /dashboard/{user_id} (max_in_flight=8)")
    check_took(
        took,
        max(seconds.values()),
        f"GET /dashboard/{user_id}",
        f"The upstreams take {list(seconds.values())} s; at once, the slowest decides.",
    )


async def test_any_2xx_answer_is_ok(deadline, timeline) -> None:
    upstreams = make_upstreams(
        timeline,
        profile=Behaviour(0.5, status=203),
        orders=Behaviour(0.5),
        recommendations=Behaviour(0.5, status=201),
    )
    async with running(upstreams, deadline, upstream_timeout=2.0) as app:
        body, _ = await app.dashboard(14)
    check_dashboard(body, 14, dict.fromkeys(THREE, "ok"), upstreams)


async def test_no_upstreams_at_all_is_an_empty_complete_dashboard(deadline) -> None:
    upstreams = make_upstreams()
    async with running(upstreams, deadline) as app:
        body, took = await app.dashboard(15)
    assert body == {"user_id": 15, "complete": True, "results": []}, (
        f"With no upstreams in the settings, GET /dashboard/15 answered {body}; expected "
        '{"user_id": 15, "complete": true, "results": []}: nothing was missing, so the '
        "dashboard is complete."
    )
    check_took(took, 0, "GET /dashboard/15", "There was nothing to wait for.")


# -- timeouts ----------------------------------------------------------------------------


async def test_a_slow_upstream_times_out_and_the_others_are_ok(deadline, timeline) -> None:
    upstreams = make_upstreams(
        timeline,
        profile=Behaviour(0.5),
        orders=Behaviour(10),
        recommendations=Behaviour(0.25),
    )
    async with running(upstreams, deadline, upstream_timeout=1.0) as app:
        body, took = await app.dashboard(3)
    check_dashboard(
        body, 3, {"profile": "ok", "orders": "timeout", "recommendations": "ok"}, upstreams
    )
    check_took(
        took,
        1,
        "GET /dashboard/3",
        "orders takes 10 s and upstream_timeout is 1 s: the answer comes once its timeout "
        "fires, after 1 s. The others were done by then.",
    )
    slow = [c for c in upstreams.calls if c.upstream == "orders"]
    assert slow and slow[0].outcome == "cancelled", (
        f"The slow orders call was not cancelled when it timed out: {upstreams.story()}. "
        "asyncio.timeout cancels what it wraps; a call that is given up on must be "
        "cancelled, not left running."
    )


async def test_the_timeout_is_the_one_in_settings(deadline, timeline) -> None:
    upstreams = make_upstreams(
        timeline, profile=Behaviour(2), orders=Behaviour(3), recommendations=Behaviour(1)
    )
    async with running(upstreams, deadline, upstream_timeout=2.5) as app:
        body, took = await app.dashboard(11)
    check_dashboard(
        body, 11, {"profile": "ok", "orders": "timeout", "recommendations": "ok"}, upstreams
    )
    check_took(
        took,
        2.5,
        "GET /dashboard/11",
        "With upstream_timeout=2.5, orders (3 s) times out at 2.5 s; profile (2 s) is ok.",
    )


async def test_every_upstream_has_a_timeout_of_its_own(deadline, timeline) -> None:
    # Two slots for three calls of 0.75 s: the third waits for a slot, then takes 0.75 s.
    upstreams = make_upstreams(timeline, **{name: Behaviour(0.75) for name in THREE})
    async with running(upstreams, deadline, max_in_flight=2, upstream_timeout=1.0) as app:
        body, took = await app.dashboard(4)
    check_dashboard(body, 4, dict.fromkeys(THREE, "ok"), upstreams)
    check_peak(upstreams, 2, "GET /dashboard/4")
    check_took(
        took,
        1.5,
        "GET /dashboard/4",
        "With 2 slots, two calls run from 0 to 0.75 s and the third from 0.75 to 1.5 s.",
    )


async def test_slow_upstreams_time_out_together(deadline, timeline) -> None:
    upstreams = make_upstreams(
        timeline, profile=Behaviour(5), orders=Behaviour(0.5), recommendations=Behaviour(7)
    )
    async with running(upstreams, deadline, upstream_timeout=2.0) as app:
        body, took = await app.dashboard(6)
    check_dashboard(
        body, 6, {"profile": "timeout", "orders": "ok", "recommendations": "timeout"}, upstreams
    )
    check_took(
        took,
        2,
        "GET /dashboard/6",
        "Both slow upstreams time out at the same moment, 2 s after they started.",
    )


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fails", "seconds"),
    [("500", 0.5), ("404", 0.25), ("connect", 0), ("drop", 0.5)],
    ids=["answers-500", "answers-404", "refuses-the-connection", "drops-the-connection"],
)
async def test_a_failing_upstream_is_an_error_and_the_others_are_ok(
    fails: str, seconds: float, deadline, timeline
) -> None:
    upstreams = make_upstreams(
        timeline,
        profile=Behaviour(1),
        orders=Behaviour(seconds, fails=fails),
        recommendations=Behaviour(0.5),
    )
    async with running(upstreams, deadline, upstream_timeout=2.0) as app:
        body, took = await app.dashboard(12)
    check_dashboard(
        body, 12, {"profile": "ok", "orders": "error", "recommendations": "ok"}, upstreams
    )
    check_took(took, 1, "GET /dashboard/12", "The slowest upstream that answered took 1 s.")


async def test_every_upstream_failing_is_still_a_200(deadline, timeline) -> None:
    upstreams = make_upstreams(
        timeline,
        profile=Behaviour(10),
        orders=Behaviour(0.5, fails="500"),
        recommendations=Behaviour(fails="connect"),
    )
    async with running(upstreams, deadline, upstream_timeout=1.5) as app:
        body, took = await app.dashboard(13)
    check_dashboard(
        body, 13, {"profile": "timeout", "orders": "error", "recommendations": "error"}, upstreams
    )
    check_took(took, 1.5, "GET /dashboard/13", "profile timed out after 1.5 s.")


# -- the bound ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 2, 4])
async def test_concurrent_requests_share_one_bound(limit: int, deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, **{name: Behaviour(1.0) for name in THREE})
    users = [21, 22, 23]
    async with running(upstreams, deadline, max_in_flight=limit, upstream_timeout=1.5) as app:
        start = upstreams.now()
        answers = await asyncio.gather(*(app.dashboard(user) for user in users))
        took = round(upstreams.now() - start, 3)
    for user, (body, _) in zip(users, answers, strict=True):
        check_dashboard(body, user, dict.fromkeys(THREE, "ok"), upstreams)
    check_peak(upstreams, limit, "3 dashboards at the same time (9 calls)")
    waves = -(-9 // limit)
    check_took(
        took,
        waves,
        "3 dashboards at the same time",
        f"9 calls of 1 s through {limit} slots take {waves} s when no slot is left idle.",
    )


async def test_each_app_has_its_own_bound(deadline, timeline) -> None:
    narrow = make_upstreams(timeline, "A ", **{name: Behaviour(1.0) for name in THREE})
    wide = make_upstreams(timeline, "B ", **{name: Behaviour(1.0) for name in THREE})
    async with (
        running(narrow, deadline, max_in_flight=1, upstream_timeout=1.5) as app_a,
        running(wide, deadline, max_in_flight=3, upstream_timeout=1.5) as app_b,
    ):
        (body_a, took_a), (body_b, took_b) = await asyncio.gather(
            app_a.dashboard(1), app_b.dashboard(2)
        )
    check_dashboard(body_a, 1, dict.fromkeys(THREE, "ok"), narrow)
    check_dashboard(body_b, 2, dict.fromkeys(THREE, "ok"), wide)
    assert (narrow.peak, wide.peak) == (1, 3), (
        f"Two apps, one with max_in_flight=1 and one with 3, ran {narrow.peak} and "
        f"{wide.peak} calls at once. Each app has a semaphore of its own, made in its "
        "lifespan from its own settings: not one at module level, shared by every app "
        "(and bound to the first event loop that used it)."
    )
    assert (took_a, took_b) == (3, 1), (
        f"The apps took {took_a:g} s and {took_b:g} s; expected 3 s (one slot) and 1 s."
    )


async def test_slots_come_back_after_timeouts_and_errors(deadline, timeline) -> None:
    upstreams = make_upstreams(
        timeline,
        profile=Behaviour(10),
        orders=Behaviour(0.5, fails="drop"),
        recommendations=Behaviour(0.25, fails="500"),
    )
    async with running(upstreams, deadline, max_in_flight=2, upstream_timeout=1.0) as app:
        body, _ = await app.dashboard(31)
        check_dashboard(
            body,
            31,
            {"profile": "timeout", "orders": "error", "recommendations": "error"},
            upstreams,
        )
        for name in THREE:
            upstreams.behaviours[name] = Behaviour(0.75)
        upstreams.peak = 0
        for user in (32, 33):
            body, took = await app.dashboard(user)
            check_dashboard(body, user, dict.fromkeys(THREE, "ok"), upstreams)
            check_took(
                took,
                1.5,
                f"GET /dashboard/{user}, after a dashboard whose calls all failed,",
                "3 calls of 0.75 s through 2 slots take 1.5 s. Is a slot still taken by a call "
                "that timed out or failed? Hold the semaphore with `async with`, so that "
                "it is given back however the call ends.",
            )
        assert upstreams.peak == 2, (
            f"Only {upstreams.peak} calls ran at once after the failed dashboard; 2 slots "
            "should be free again."
        )


async def test_the_same_app_starts_again_on_a_new_event_loop(deadline) -> None:
    # A server may start one app object more than once, and tests that share a module-level
    # app run each on an event loop of their own. The first run is on a loop in a thread.
    upstreams = make_upstreams(**{name: Behaviour(0.01) for name in THREE})
    settings = upstreams.settings(max_in_flight=1, upstream_timeout=5.0)
    app = create_app(settings, upstreams)

    async def first_run() -> list[Any]:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                response = await client.get("/dashboard/1")
        return [result.get("status") for result in response.json().get("results", [])]

    first = await asyncio.to_thread(asyncio.run, first_run())
    assert first == ["ok", "ok", "ok"], (
        f"The app's first run, on an event loop of its own, answered the statuses {first}; "
        f"expected three ok. The upstreams: {upstreams.story()}"
    )
    upstreams.calls.clear()
    upstreams.peak = 0
    async with running(upstreams, deadline, app=app, max_in_flight=1, upstream_timeout=5.0) as run:
        body, _ = await run.dashboard(2)
    check_dashboard(body, 2, dict.fromkeys(THREE, "ok"), upstreams)
    check_peak(upstreams, 1, "the app's second run")


# -- the client, the lifespan and the dependency ----------------------------------------


async def test_one_client_made_at_startup_and_closed_at_shutdown(deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, **{name: Behaviour(0.5) for name in THREE})
    async with running(upstreams, deadline) as app:
        made_at_startup = list(upstreams.clients_made)
        await app.dashboard(1)
        await asyncio.gather(app.dashboard(2), app.dashboard(3))
        await app.dashboard(4)
        closed_while_serving = list(upstreams.closes)
    made = upstreams.clients_made
    assert made, (
        "No httpx.AsyncClient was made with the transport given to create_app. The "
        "lifespan makes one: `httpx.AsyncClient(transport=transport)`."
    )
    assert made == ["startup"], (
        f"{len(made)} httpx.AsyncClients were made with the transport, in these phases: "
        f"{made}. Make exactly one, in the lifespan before its yield, and share it with "
        "every request: a client per request opens new connections every time."
    )
    assert made_at_startup == ["startup"]
    assert not closed_while_serving, (
        "The app's client was closed while the app was still serving requests. Close it "
        "only when the app shuts down: after the lifespan's yield (`async with "
        "httpx.AsyncClient(...) as client:` around the yield does it)."
    )
    assert upstreams.closes == ["shutdown"], (
        f"The app's client was closed {len(upstreams.closes)} times at shutdown; close it "
        "exactly once, after the lifespan's yield."
    )


async def test_the_client_is_closed_even_when_the_app_is_cancelled(deadline, timeline) -> None:
    class ServerStopped(Exception):
        """The test's way to stop the server abruptly: the lifespan is cancelled."""

    upstreams = make_upstreams(timeline, **{name: Behaviour(0.5) for name in THREE})
    with pytest.raises(ServerStopped):
        async with running(upstreams, deadline) as app:
            await app.dashboard(1)
            upstreams.phase = "cancelled"
            raise ServerStopped
    assert upstreams.closes == ["cancelled"], (
        f"The server stopped abruptly (its lifespan was cancelled at the yield), and the "
        f"app's client was closed {len(upstreams.closes)} times. Close it however the "
        "lifespan ends: `async with httpx.AsyncClient(...) as client:` around the yield, or "
        "`await client.aclose()` in a `finally`."
    )


async def test_the_dashboard_takes_its_client_from_get_client(deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, **{name: Behaviour(0.5) for name in THREE})
    other = make_upstreams(timeline, "swapped ", **{name: Behaviour(0.5) for name in THREE})
    async with (
        httpx.AsyncClient(transport=other) as swapped,
        running(upstreams, deadline) as app,
    ):

        async def swapped_client() -> httpx.AsyncClient:
            return swapped

        app.app.dependency_overrides[get_client] = swapped_client
        body, _ = await app.dashboard(5)
    check_dashboard(body, 5, dict.fromkeys(THREE, "ok"), other)
    assert not upstreams.calls and len(other.calls) == 3, (
        "With get_client swapped for another client (app.dependency_overrides), the "
        f"dashboard still used the app's own client: {upstreams.story()}. The endpoint "
        "takes its client through the dependency, `Annotated[httpx.AsyncClient, "
        "Depends(get_client)]`, so that tests and other code can swap it."
    )


# -- cancellation --------------------------------------------------------------------------


async def test_a_cancelled_request_leaves_no_upstream_call_running(deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, **{name: Behaviour(1.0) for name in THREE})
    async with running(upstreams, deadline, max_in_flight=2, upstream_timeout=5.0) as app:
        task = asyncio.create_task(app.client.get("/dashboard/77"))
        await asyncio.sleep(0.5)  # two calls are under way; the third waits for a slot
        if task.done():
            await task  # raises your app's own error, if it had one
            pytest.fail(f"GET /dashboard/77 was over after 0.5 s: {upstreams.story()}.")
        task.cancel()  # the client hung up
        async with deadline(60, "GET /dashboard/77 after it was cancelled"):
            await asyncio.wait([task])
        running_after = [str(c) for c in upstreams.running()]
        await asyncio.sleep(5)  # anything left behind would run now
    check_peak(upstreams, 2, "GET /dashboard/77")
    assert not running_after, (
        f"GET /dashboard/77 was cancelled (the client hung up), and these upstream calls "
        f"were still running after it ended: {running_after}. Run the calls where a cancel "
        "reaches them: gather or a TaskGroup cancel their tasks and wait for them. Tasks "
        "made with create_task (or by asyncio.as_completed) and awaited with asyncio.wait "
        "or as_completed go on alone."
    )
    late = [str(c) for c in upstreams.calls if c.start > 0.5 + 0.001]
    assert not late, (
        f"After GET /dashboard/77 was cancelled at 0.5 s, these upstream calls started: "
        f"{late}. A call that waited for a slot must be cancelled too, not started later."
    )
    cancelled = [c for c in upstreams.calls if c.outcome == "cancelled"]
    assert len(cancelled) == 2, (
        f"The two calls under way when the request was cancelled should have been "
        f"cancelled: {upstreams.story()}."
    )
    assert task.cancelled(), (
        "GET /dashboard/77 was cancelled, but it finished anyway. Let CancelledError "
        "through: don't catch it (a bare `except:` or `except BaseException:` does)."
    )


async def test_a_cancelled_request_gives_its_slots_back(deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, **{name: Behaviour(1.0) for name in THREE})
    async with running(upstreams, deadline, max_in_flight=2, upstream_timeout=5.0) as app:
        task = asyncio.create_task(app.client.get("/dashboard/78"))
        await asyncio.sleep(0.5)  # two calls hold the two slots
        task.cancel()
        async with deadline(60, "GET /dashboard/78 after it was cancelled"):
            await asyncio.wait([task])
        upstreams.peak = 0
        body, took = await app.dashboard(79)
    check_dashboard(body, 79, dict.fromkeys(THREE, "ok"), upstreams)
    check_peak(upstreams, 2, "GET /dashboard/79, after a cancelled request")
    check_took(
        took,
        2,
        "GET /dashboard/79, after a cancelled request,",
        "3 calls of 1 s through 2 slots take 2 s. Did the cancelled calls keep their slots? "
        "Hold the semaphore with `async with limiter:`, which gives the slot back however "
        "the call ends, a cancel included.",
    )


# -- fetch_upstream on its own ----------------------------------------------------------

OUTCOMES = {
    "answers-200": (Behaviour(0.5), "ok", 0.5),
    "answers-203": (Behaviour(0.5, status=203), "ok", 0.5),
    "answers-500": (Behaviour(0.5, fails="500"), "error", 0.5),
    "answers-404": (Behaviour(0.25, fails="404"), "error", 0.25),
    "refuses-the-connection": (Behaviour(0, fails="connect"), "error", 0),
    "drops-the-connection": (Behaviour(0.5, fails="drop"), "error", 0.5),
    "too-slow": (Behaviour(5), "timeout", 1),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
async def test_fetch_upstream_turns_each_outcome_into_a_status(
    outcome: str, deadline, timeline
) -> None:
    behaviour, status, seconds = OUTCOMES[outcome]
    upstreams = make_upstreams(timeline, orders=behaviour)
    url = upstreams.settings().upstreams["orders"].format(user_id=3)
    limiter = asyncio.Semaphore(1)
    call = f'fetch_upstream(client, limiter, "orders", "{url}", 1.0)'
    async with httpx.AsyncClient(transport=upstreams) as client:
        start = upstreams.now()
        async with deadline(60, call):
            try:
                result = await fetch_upstream(client, limiter, "orders", url, 1.0)
            except Exception as error:
                if only_not_implemented(error):
                    raise
                leaf = first_leaf(error)
                pytest.fail(
                    f"{call} raised {type(leaf).__name__}: {leaf}, for an upstream that "
                    f"{outcome.replace('-', ' ')}. fetch_upstream turns the upstream's "
                    f'failure into a status ("{status}") and never raises for it: catch it '
                    "inside fetch_upstream, not around the fan-out."
                )
        took = round(upstreams.now() - start, 3)
    assert isinstance(result, UpstreamResult), (
        f"{call} returned {result!r}; expected an UpstreamResult."
    )
    data = expected_data("orders", 3) if status == "ok" else None
    assert (result.upstream, result.status, result.data) == ("orders", status, data), (
        f"For an upstream that {outcome.replace('-', ' ')}, {call} returned "
        f"{result!r}; expected upstream='orders', status={status!r}, data={data!r}. "
        f"{why(status, result.status, behaviour, 1.0)}"
    )
    assert not limiter.locked(), f"{call} kept its slot of the semaphore after it returned."
    check_took(took, seconds, call, f"The upstream {outcome.replace('-', ' ')}.")


async def test_fetch_upstream_lets_a_cancel_through(deadline, timeline) -> None:
    upstreams = make_upstreams(timeline, orders=Behaviour(2))
    url = upstreams.settings().upstreams["orders"].format(user_id=4)
    limiter = asyncio.Semaphore(1)
    async with httpx.AsyncClient(transport=upstreams) as client:
        task = asyncio.create_task(fetch_upstream(client, limiter, "orders", url, 5.0))
        await asyncio.sleep(0.5)
        if task.done():
            await task  # raises its own error, if it had one
            pytest.fail(f"fetch_upstream was done after 0.5 s: {upstreams.story()}")
        task.cancel()  # the request it works for was cancelled
        async with deadline(60, "fetch_upstream after it was cancelled"):
            await asyncio.wait([task])
    if not task.cancelled():
        error = task.exception()
        if error is not None:
            raise error
        pytest.fail(
            f"fetch_upstream was cancelled (the request it works for was cancelled), and it "
            f"returned {task.result()!r} instead of letting CancelledError through. A cancel "
            "is not the upstream failing: catch TimeoutError and httpx.HTTPError, not "
            "BaseException (or a bare `except:`)."
        )
    assert upstreams.calls and upstreams.calls[0].outcome == "cancelled", (
        f"fetch_upstream was cancelled but its call went on: {upstreams.story()}"
    )
    assert not limiter.locked(), (
        "fetch_upstream was cancelled and kept its slot of the semaphore. `async with "
        "limiter:` gives it back however the call ends."
    )
