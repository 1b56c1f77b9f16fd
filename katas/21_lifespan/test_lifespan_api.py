"""Kata 21 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import ssl
import sysconfig
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from types import TracebackType
from typing import Any

import fastapi.dependencies.utils
import httpcore  # noqa: F401  (see below)
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from lifespan_api import Settings, create_app, get_http_client, lifespan

# httpx loads httpcore and anyio's network backend for its first real connection pool:
# loaded here, while the tests are collected, that time is not charged to one test.
importlib.import_module("anyio._backends._asyncio")

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

API_KEY = "kata-21-key"
HOST = "prices.test"
PRICES_URL = f"http://{HOST}"
PRICE_SECONDS = 1.0  # how long the fake prices service takes to answer with a price
COMPANY_SECONDS = 2.0  # ... and with a company profile

PRICES = {"ACME": ("123.45", "USD"), "GLOBEX": ("87.10", "USD"), "SAP": ("198.36", "EUR")}
COMPANIES = {"ACME": "Acme Corp", "GLOBEX": "Globex Corporation", "SAP": "SAP SE"}
UNAVAILABLE = {"detail": "The prices service is unavailable"}


def quote(symbol: str, prices: dict[str, tuple[str, str]] = PRICES) -> dict[str, str]:
    """What GET /quotes/{symbol} should answer."""
    price, currency = prices[symbol]
    return {"symbol": symbol, "price": price, "currency": currency}


def overview(symbol: str) -> dict[str, str]:
    """What GET /overview/{symbol} should answer."""
    return {"name": COMPANIES[symbol], **quote(symbol)}


# -- the fake upstream --------------------------------------------------------------------


class PricesService:
    """A fake prices service: a small FastAPI app run in-process, recording what it gets.

    GET /v1/prices/{symbol} takes PRICE_SECONDS, GET /v1/companies/{symbol} takes
    COMPANY_SECONDS (event-loop time). An unknown symbol is a 404 at once, BROKEN a 503,
    CRASH a 500, PENDING a 202 (no price in it), and SLOW never answers. A request that
    comes without the right X-Api-Key is a 401, and one sent to another host than
    PRICES_URL's a 421.
    `network` is what the app's client must send its requests through (Settings.transport).
    """

    def __init__(
        self,
        prices: dict[str, tuple[str, str]] = PRICES,
        companies: dict[str, str] = COMPANIES,
        timeline: Any = None,
    ) -> None:
        self.prices = prices
        self.companies = companies
        self.timeline = timeline
        self.calls: list[str] = []  # "GET /v1/prices/ACME", in the order they came in
        self.refused: list[str] = []  # why a request was turned away (key, host)
        self.in_flight = 0
        self.peak = 0
        self.down = False  # True: connections are refused
        self.app = FastAPI(title="Fake prices service")
        self.network = FakeNetwork(self)

        @self.app.get("/v1/prices/{symbol}")
        async def price(symbol: str, request: Request) -> JSONResponse:
            amount, currency = self.prices.get(symbol, ("", ""))
            body = {
                "ticker": symbol,
                "price": {"amount": amount, "currency": currency},
                "as_of": "2026-11-25T14:30:00Z",
                "exchange": "XNYS",
            }
            return await self.answer(request, symbol, PRICE_SECONDS, body)

        @self.app.get("/v1/companies/{symbol}")
        async def company(symbol: str, request: Request) -> JSONResponse:
            body = {"ticker": symbol, "name": self.companies.get(symbol), "employees": 1200}
            return await self.answer(request, symbol, COMPANY_SECONDS, body)

    async def answer(
        self, request: Request, symbol: str, seconds: float, body: dict[str, Any]
    ) -> JSONResponse:
        what = f"GET {request.url.path}"
        self.calls.append(what)
        host = request.headers.get("host")
        if host != HOST:
            self.refused.append(f"{what} was sent to {host}, not to {HOST} (settings.prices_url)")
            return JSONResponse({"error": "misdirected request"}, status_code=421)
        key = request.headers.get("x-api-key")
        if key != API_KEY:
            self.refused.append(f"{what} came with X-Api-Key {key!r}, not settings.api_key")
            return JSONResponse({"error": "bad API key"}, status_code=401)
        if symbol == "BROKEN":
            return JSONResponse({"error": "down for maintenance"}, status_code=503)
        if symbol == "CRASH":
            return JSONResponse({"error": "internal error"}, status_code=500)
        if symbol == "PENDING":  # not an error status, and not a price either
            return JSONResponse({"status": "computing, ask again later"}, status_code=202)
        if symbol != "SLOW" and (symbol not in self.prices or symbol not in self.companies):
            return JSONResponse({"error": f"no such ticker: {symbol}"}, status_code=404)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            with self.timeline.span(what) if self.timeline else nullcontext():
                if symbol == "SLOW":
                    await asyncio.Event().wait()  # never answers
                await asyncio.sleep(seconds)
        finally:
            self.in_flight -= 1
        return JSONResponse(body)


class FakeNetwork(httpx.AsyncBaseTransport):
    """The wire between the app's client and the fake prices service.

    Requests reach the service in-process (httpx.ASGITransport). Like a real connection,
    it refuses to connect while the service is down, and gives up with httpx.ReadTimeout
    once an answer takes longer than the client's read timeout (ASGITransport alone
    would wait for ever).
    """

    def __init__(self, service: PricesService) -> None:
        self.service = service
        self.asgi = httpx.ASGITransport(app=service.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.service.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        read_timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(read_timeout):
                return await self.asgi.handle_async_request(request)
        except TimeoutError:
            raise httpx.ReadTimeout("The read operation timed out", request=request) from None


def settings_for(service: PricesService, **changes: Any) -> Settings:
    """Settings that point the app at the fake service."""
    values: dict[str, Any] = {
        "prices_url": PRICES_URL,
        "api_key": API_KEY,
        "timeout": 2.5,
        "max_connections": 50,
        "transport": service.network,
    }
    return Settings(**{**values, **changes})


# -- watching the app's clients -----------------------------------------------------------


class ClientSpy:
    """Watches every httpx.AsyncClient made during a test: when, what it sent, if closed.

    It patches the class itself, so it sees your clients however you import httpx. The
    clients the tests make themselves (to drive your app) are left out.
    """

    def __init__(self) -> None:
        self.moment = "before the app started"
        self.made: list[tuple[httpx.AsyncClient, str]] = []  # (client, when it was made)
        self.sent: list[tuple[httpx.AsyncClient, str]] = []  # (client, "GET /v1/...")
        self.pool_limits: list[httpx.Limits] = []  # of every network transport made
        self._ours: list[httpx.AsyncClient] = []

    def ours(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        self._ours.append(client)
        return client

    def _is_ours(self, client: httpx.AsyncClient) -> bool:
        return any(client is mine for mine in self._ours)

    def clients(self) -> list[httpx.AsyncClient]:
        """The clients your app made, in order."""
        return [client for client, _ in self.made if not self._is_ours(client)]

    def sent_by(self, client: httpx.AsyncClient) -> list[str]:
        return [what for sender, what in self.sent if sender is client]

    def senders(self) -> list[httpx.AsyncClient]:
        """Every client (of yours) that sent something, in the order of first use."""
        found: list[httpx.AsyncClient] = []
        for sender, _ in self.sent:
            if not self._is_ours(sender) and not any(sender is f for f in found):
                found.append(sender)
        return found

    def story(self) -> str:
        """Every client your app made: when, how many requests it sent, open or closed."""
        parts = []
        for number, (client, moment) in enumerate(
            [(c, m) for c, m in self.made if not self._is_ours(c)], start=1
        ):
            state = "closed now" if client.is_closed else "still open"
            parts.append(
                f"client #{number} made {moment}, sent {len(self.sent_by(client))} "
                f"request(s), {state}"
            )
        return "; ".join(parts) if parts else "your app made no httpx.AsyncClient at all"


def no_certificates() -> ssl.SSLContext:
    """A TLS context with no certificates: no real TLS connection can succeed with it."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> ClientSpy:
    watch = ClientSpy()
    client_init = httpx.AsyncClient.__init__
    client_send = httpx.AsyncClient.send
    pool_init = httpx.AsyncHTTPTransport.__init__
    pool_signature = inspect.signature(pool_init)

    def spying_client_init(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        client_init(client, *args, **kwargs)
        watch.made.append((client, watch.moment))

    async def spying_send(
        client: httpx.AsyncClient, request: httpx.Request, *args: Any, **kwargs: Any
    ) -> httpx.Response:
        watch.sent.append((client, f"{request.method} {request.url.path}"))
        return await client_send(client, request, *args, **kwargs)

    def spying_pool_init(transport: httpx.AsyncHTTPTransport, *args: Any, **kwargs: Any) -> None:
        bound = pool_signature.bind(transport, *args, **kwargs)
        bound.apply_defaults()
        watch.pool_limits.append(bound.arguments["limits"])
        # Nothing may go out on the real network in these tests, and loading the system's
        # certificates (httpx's default) is slow: give the pool none.
        bound.arguments["verify"] = no_certificates()
        pool_init(*bound.args, **bound.kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", spying_client_init)
    monkeypatch.setattr(httpx.AsyncClient, "send", spying_send)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "__init__", spying_pool_init)
    return watch


@pytest.fixture(autouse=True)
def _plain_dependencies_run_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a plain `def` dependency on the event loop's thread, not in a worker thread.

    The virtual clock of these tests can't see a worker thread and would jump to the next
    timer while it works; inline, each request takes exactly the time its calls take.
    """

    async def run_inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", run_inline)


# -- running the app as a server would ----------------------------------------------------


_LIBRARIES = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")})


def your_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback of an error raised in the app, without the frames inside httpx,
    Starlette and FastAPI (dozens of them): the report shows the tests and your code."""
    kept = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_LIBRARIES):
            kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for entry in reversed(kept):
        trimmed = TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


def client_misuse(error: RuntimeError, what: str, spy: ClientSpy) -> str | None:
    """Advice for httpx's own complaints about a client used after, or beyond, its life."""
    text = str(error)
    if "has been closed" in text:  # "Cannot send a request, as the client has been closed."
        return (
            f"{what}: your app used an httpx.AsyncClient that was already closed "
            f"({spy.story()}). The shared client must stay open from startup to shutdown: "
            "don't close it in a dependency or an endpoint (`async with client:` closes it "
            "at the end of its block), and make it in the lifespan, which runs again on "
            "every startup."
        )
    if "more than once" in text or "reopen" in text:
        return (
            f"{what}: httpx says {text!r}: your app entered the same client with `async "
            f"with` a second time ({spy.story()}). `async with client:` opens a client and "
            "closes it when the block ends; a closed client can't be opened again. Only "
            "the lifespan does that, once per run, on a client it has just made; a "
            "dependency just returns the client."
        )
    return None


def _only_todos(group: BaseExceptionGroup) -> bool:
    return all(
        _only_todos(e) if isinstance(e, BaseExceptionGroup) else isinstance(e, NotImplementedError)
        for e in group.exceptions
    )


class Server:
    """Runs an app as a server would: startup, requests, shutdown; each under a deadline.

    `async with Server(app, spy, deadline) as server:` starts the app's lifespan through
    asgi_lifespan.LifespanManager, which also hands what the lifespan yields to every
    request (request.state), as uvicorn does. `await server.stop()` shuts it down; if
    the test fails first, the lifespan is cancelled, as LifespanManager does.
    """

    def __init__(self, app: FastAPI, spy: ClientSpy, deadline: Deadline) -> None:
        self.app = app
        self.spy = spy
        self.deadline = deadline
        self.manager: LifespanManager | None = None
        self.client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Server:
        manager = LifespanManager(self.app)
        self.spy.moment = "at startup"
        try:
            async with self.deadline(30, "The app's startup (your lifespan, up to its yield)"):
                await manager.__aenter__()
        except RuntimeError as exc:
            message = client_misuse(exc, "At startup", self.spy)
            if message is None:
                raise exc.with_traceback(your_frames(exc.__traceback__)) from None
            pytest.fail(message)
        except AssertionError:
            raise
        except Exception as exc:  # the lifespan's own error, as it is
            raise exc.with_traceback(your_frames(exc.__traceback__)) from None
        self.manager = manager
        self.spy.moment = "between requests"
        transport = httpx.ASGITransport(app=manager.app)
        self.client = self.spy.ours(httpx.AsyncClient(transport=transport, base_url="http://test"))
        return self

    async def __aexit__(self, *error: Any) -> None:
        if self.manager is None:
            return  # stopped already
        if error[0] is None:
            await self.stop()
            return
        manager, self.manager = self.manager, None
        if self.client is not None:
            await self.client.aclose()
        async with self.deadline(30, "The app's lifespan, cancelled after a failed test"):
            await manager.__aexit__(*error)

    async def stop(self) -> None:
        assert self.manager is not None and self.client is not None
        manager, self.manager = self.manager, None
        await self.client.aclose()
        self.spy.moment = "at shutdown"
        async with self.deadline(30, "The app's shutdown (your lifespan, after its yield)"):
            await manager.__aexit__(None, None, None)
        self.spy.moment = "after shutdown"

    async def get(self, url: str, *, hung: str = "") -> httpx.Response:
        """GET url on the running app. The app's own errors are raised again as they are,
        except the ones a learner can't read from a traceback: those become advice."""
        assert self.client is not None
        self.spy.moment = f"during GET {url}"
        try:
            if hung:
                timer = asyncio.timeout(30)
                try:
                    async with timer:
                        return await self.client.get(url)
                except TimeoutError:
                    if not timer.expired():
                        raise
                    pytest.fail(hung)
            async with self.deadline(60, f"GET {url}"):
                return await self.client.get(url)
        except AssertionError:
            raise
        except RuntimeError as exc:
            advice = client_misuse(exc, f"GET {url}", self.spy)
            if advice is None:
                raise exc.with_traceback(your_frames(exc.__traceback__)) from None
            message = advice
        except (httpx.HTTPError, TimeoutError) as exc:
            message = (
                f"GET {url}: {type(exc).__name__}({exc}) from the prices service escaped your "
                "endpoint, so the server answers a bare 500. Catch httpx's errors around the "
                "upstream call (httpx.HTTPError covers refused connections and timeouts) and "
                f"answer 502 with the body {UNAVAILABLE}."
            )
        except BaseExceptionGroup as group:
            if _only_todos(group):
                raise
            message = (
                f"GET {url}: an ExceptionGroup escaped your endpoint ({group!r}). An "
                "HTTPException raised inside a TaskGroup's task comes out wrapped in an "
                "ExceptionGroup, which FastAPI can't answer. asyncio.gather raises the "
                "first error as it is; with a TaskGroup, catch the group (`except* "
                "HTTPException as group:`) and raise one of its errors again "
                "(`raise group.exceptions[0]`)."
            )
        except Exception as exc:  # the app's own error, as it is, with a shorter traceback
            raise exc.with_traceback(your_frames(exc.__traceback__)) from None
        finally:
            self.spy.moment = "between requests"
        pytest.fail(message)


def the_one_client(spy: ClientSpy, when: str) -> httpx.AsyncClient:
    """The single client the app made at startup, or a failure that says what went wrong."""
    made = spy.clients()
    if not made:
        pytest.fail(
            f"{when}, your app had made no httpx.AsyncClient. Make the client in the "
            "lifespan, before its `yield`, so it is there before the first request (not "
            "lazily in the dependency, not at import)."
        )
    assert len(made) == 1, (
        f"{when}, your app had made {len(made)} clients: {spy.story()}. Make exactly one, "
        "in the lifespan, for the whole life of the app."
    )
    return made[0]


def check_status(response: httpx.Response, url: str, expected: int, service: PricesService) -> None:
    if response.status_code == expected:
        return
    why = ""
    if service.refused:
        why = f" The prices service turned a request away: {service.refused[0]}."
    elif not service.calls:
        why = (
            " The fake prices service got no request at all: does your client send through "
            "settings.transport?"
        )
    pytest.fail(
        f"GET {url} answered {response.status_code} {response.text[:200]}; expected "
        f"{expected}.{why}"
    )


def check_body(response: httpx.Response, url: str, expected: dict[str, Any]) -> None:
    assert response.json() == expected, (
        f"GET {url} answered {response.json()}; expected {expected}."
    )


def took(loop: asyncio.AbstractEventLoop, start: float) -> float:
    return round(loop.time() - start, 6)


# -- the tests ----------------------------------------------------------------------------


async def test_one_client_is_made_at_startup_and_every_call_goes_through_it(
    spy: ClientSpy, deadline: Deadline
) -> None:
    service = PricesService()
    app = create_app(settings_for(service))
    async with Server(app, spy, deadline) as server:
        client = the_one_client(spy, "Right after startup, before the first request")
        moment = spy.made[[c for c, _ in spy.made].index(client)][1]
        assert moment == "at startup", (
            f"The app's client was made {moment}, not at startup: {spy.story()}. Make it "
            "in the lifespan, which runs each time the app starts (not in create_app, "
            "not at import)."
        )
        assert not client.is_closed, (
            "Right after startup, the app's client is already closed. Keep it open until "
            "shutdown: `yield` inside the `async with httpx.AsyncClient(...)` block, not "
            "after it."
        )
        urls = ["/quotes/ACME", "/quotes/SAP", "/overview/GLOBEX", "/quotes/ACME"]
        for url in urls:
            response = await server.get(url)
            check_status(response, url, 200, service)
        made = spy.clients()
        assert len(made) == 1, (
            f"After {len(urls)} requests your app had made {len(made)} clients: "
            f"{spy.story()}. A client per request throws its connection pool away every "
            "time: every request pays for a new connection. Make one in the lifespan and "
            "hand it to the endpoints with the get_http_client dependency."
        )
        assert [sender is client for sender in spy.senders()] == [True], (
            f"The upstream calls were not all sent by the client made at startup: {spy.story()}."
        )
        expected = ["GET /v1/prices/ACME", "GET /v1/prices/SAP", "GET /v1/prices/GLOBEX"]
        expected += ["GET /v1/companies/GLOBEX", "GET /v1/prices/ACME"]
        assert sorted(spy.sent_by(client)) == sorted(expected), (
            f"The app's client sent {spy.sent_by(client)}; expected one upstream call per "
            f"quote and two for the overview: {expected}."
        )
        assert not client.is_closed, (
            f"After {len(urls)} requests, and before shutdown, the app's client is closed. "
            "Nothing but the lifespan closes it, at shutdown."
        )


async def test_a_quote_is_the_prices_services_answer_reshaped(
    spy: ClientSpy, deadline: Deadline
) -> None:
    service = PricesService()
    loop = asyncio.get_running_loop()
    async with Server(create_app(settings_for(service)), spy, deadline) as server:
        for symbol in ["ACME", "SAP"]:
            url = f"/quotes/{symbol}"
            start = loop.time()
            response = await server.get(url)
            check_status(response, url, 200, service)
            check_body(response, url, quote(symbol))
            assert took(loop, start) == PRICE_SECONDS, (
                f"GET {url} took {took(loop, start)} s; one call to the prices service "
                f"takes {PRICE_SECONDS} s."
            )
    assert service.calls == ["GET /v1/prices/ACME", "GET /v1/prices/SAP"], (
        f"The prices service got {service.calls}; expected exactly one GET "
        "/v1/prices/{symbol} per quote."
    )


async def test_the_overview_asks_for_the_price_and_the_company_at_once(
    spy: ClientSpy, deadline: Deadline, timeline: Any
) -> None:
    service = PricesService(timeline=timeline)
    loop = asyncio.get_running_loop()
    url = "/overview/ACME"
    async with Server(create_app(settings_for(service)), spy, deadline) as server:
        start = loop.time()
        response = await server.get(url)
        seconds = took(loop, start)
        check_status(response, url, 200, service)
        check_body(response, url, overview("ACME"))
        assert sorted(service.calls) == ["GET /v1/companies/ACME", "GET /v1/prices/ACME"], (
            f"For the overview the prices service got {service.calls}; expected one price "
            "and one company call."
        )
        assert service.peak == 2 and seconds == COMPANY_SECONDS, (
            f"GET {url} took {seconds} s, with at most {service.peak} upstream call(s) in "
            f"flight at once. The price takes {PRICE_SECONDS} s and the company "
            f"{COMPANY_SECONDS} s: asked for at the same time (asyncio.gather), the "
            f"overview takes {COMPANY_SECONDS} s; one after the other, "
            f"{PRICE_SECONDS + COMPANY_SECONDS} s."
        )
        client = the_one_client(spy, "After the overview")
        assert len(spy.sent_by(client)) == 2, (
            f"Both calls of the overview go through the app's one client: {spy.story()}."
        )


async def test_many_requests_at_once_share_the_client_without_waiting(
    spy: ClientSpy, deadline: Deadline
) -> None:
    service = PricesService()
    loop = asyncio.get_running_loop()
    symbols = ["ACME", "GLOBEX", "SAP", "GLOBEX", "ACME"] * 4  # 20 requests
    async with Server(create_app(settings_for(service)), spy, deadline) as server:
        start = loop.time()
        async with deadline(60, "20 GET /quotes/... at the same time"):
            responses = await asyncio.gather(*(server.get(f"/quotes/{s}") for s in symbols))
        seconds = took(loop, start)
        for symbol, response in zip(symbols, responses, strict=True):
            check_status(response, f"/quotes/{symbol}", 200, service)
            check_body(response, f"/quotes/{symbol}", quote(symbol))
        client = the_one_client(spy, "After 20 requests at the same time")
        assert len(spy.sent_by(client)) == 20, (
            f"20 quotes should be 20 upstream calls on the app's client: {spy.story()}."
        )
        assert service.peak == 20 and seconds == PRICE_SECONDS, (
            f"20 requests at the same time took {seconds} s, with at most {service.peak} "
            f"upstream calls in flight; expected all 20 at once, in {PRICE_SECONDS} s. One "
            "httpx.AsyncClient serves many requests at the same time: don't hold a lock "
            "around it, and don't wait for another request's call."
        )


async def test_the_client_is_closed_at_shutdown_and_nothing_goes_out_after(
    spy: ClientSpy, deadline: Deadline
) -> None:
    service = PricesService()
    app = create_app(settings_for(service))
    async with Server(app, spy, deadline) as server:
        response = await server.get("/quotes/ACME")
        check_status(response, "/quotes/ACME", 200, service)
        await server.stop()
        client = the_one_client(spy, "After startup, one request and shutdown")
        assert client.is_closed, (
            f"After shutdown the app's client is still open: {spy.story()}. An open client "
            "keeps its connections (and sockets) until the process dies. Close it when "
            "the lifespan ends: make it with `async with httpx.AsyncClient(...) as "
            "client:` around the `yield`, or `await client.aclose()` in a `finally` after it."
        )
    calls = len(service.calls)
    transport = httpx.ASGITransport(app=app)  # the server is gone; the app object is not
    async with spy.ours(httpx.AsyncClient(transport=transport, base_url="http://test")) as after:
        try:
            async with deadline(60, "GET /quotes/ACME after shutdown"):
                late: httpx.Response | None = await after.get("/quotes/ACME")
        except Exception:  # the app can't serve any more: that is right
            late = None
    assert len(service.calls) == calls, (
        "After shutdown, a request to the app still reached the prices service "
        f"({spy.story()}). Once the lifespan is over, nothing may go out: don't make a "
        "new client on the fly in get_http_client when there is none (or it is closed)."
    )
    assert late is None or late.status_code >= 500, (
        f"After shutdown, GET /quotes/ACME answered {late.status_code if late else ''}."
    )


async def test_the_lifespan_on_its_own_makes_one_client_and_closes_it(
    spy: ClientSpy, deadline: Deadline
) -> None:
    """`lifespan` is an async context manager of its own: any app with settings can use it
    (FastAPI(lifespan=lifespan) is how create_app does)."""
    service = PricesService()
    app = FastAPI()
    app.state.settings = settings_for(service)
    spy.moment = "at startup"
    async with deadline(30, "`async with lifespan(app):` (your lifespan, up to its yield)"):
        context = lifespan(app)
        await context.__aenter__()
    try:
        client = the_one_client(spy, "Inside `async with lifespan(app):`")
        assert not client.is_closed, (
            f"Inside `async with lifespan(app):` the client is already closed: "
            f"{spy.story()}. Keep it open until the lifespan ends."
        )
    finally:
        spy.moment = "at shutdown"
        async with deadline(30, "Leaving `async with lifespan(app):`"):
            await context.__aexit__(None, None, None)
    assert client.is_closed, (
        f"After `async with lifespan(app):` ended, the client is still open: {spy.story()}. "
        "The lifespan closes what it made: `async with httpx.AsyncClient(...) as client:` "
        "around the `yield`. (Startup and shutdown handlers, on_startup=/on_shutdown= or "
        "@app.on_event, are the old way: FastAPI runs none of them once a lifespan is "
        "given.)"
    )


async def test_a_hard_stop_still_closes_the_client(spy: ClientSpy, deadline: Deadline) -> None:
    """The lifespan is cancelled instead of asked for a clean shutdown (as LifespanManager
    does when a test fails inside it, or a server whose task is cancelled): the client
    must be closed all the same."""
    service = PricesService()
    app = create_app(settings_for(service))
    messages = [{"type": "lifespan.startup"}]
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # no clean shutdown is ever asked for
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    spy.moment = "at startup"
    lifespan = asyncio.create_task(app(scope, receive, send))
    startup = asyncio.create_task(started.wait())
    try:
        async with deadline(30, "The app's startup (your lifespan, up to its yield)"):
            await asyncio.wait([lifespan, startup], return_when=asyncio.FIRST_COMPLETED)
        if lifespan.done():
            lifespan.result()  # the lifespan's own error, as it is
            pytest.fail("The app's lifespan ended right after startup, before any shutdown.")
        client = the_one_client(spy, "Right after startup")
        spy.moment = "at the hard stop"
        lifespan.cancel()
        async with deadline(30, "The app's lifespan, after it was cancelled"):
            await asyncio.wait([lifespan])
    finally:
        for task in (lifespan, startup):
            task.cancel()
        await asyncio.wait([lifespan, startup])
        if not lifespan.cancelled():
            lifespan.exception()  # seen: what matters below is the client
    assert client.is_closed, (
        "The app was stopped hard (its lifespan was cancelled, as LifespanManager does when "
        f"a test fails inside it), and the client was left open: {spy.story()}. Code after "
        "a bare `yield` runs only on a clean shutdown. Make the client with `async with "
        "httpx.AsyncClient(...) as client:` around the `yield` (or close it in `finally`)."
    )


async def test_the_app_starts_again_with_a_fresh_client(spy: ClientSpy, deadline: Deadline) -> None:
    service = PricesService()
    app = create_app(settings_for(service))
    async with Server(app, spy, deadline) as first:
        check_status(await first.get("/quotes/ACME"), "/quotes/ACME", 200, service)
    old = the_one_client(spy, "After the first startup and shutdown")
    # The same app, started again: tests do that, and so does a server that reloads.
    async with Server(app, spy, deadline) as second:
        made = spy.clients()
        assert len(made) == 2 and not made[1].is_closed, (
            "The same app was started, stopped and started again; the second startup "
            f"should make a fresh client (the first one is closed for good): {spy.story()}. "
            "Make the client in the lifespan, every time it runs: not in create_app, not "
            "at import, and not only when app.state has none yet."
        )
        fresh = made[1]
        response = await second.get("/overview/SAP")
        check_status(response, "/overview/SAP", 200, service)
        check_body(response, "/overview/SAP", overview("SAP"))
        assert len(spy.sent_by(fresh)) == 2 and len(spy.sent_by(old)) == 1, (
            f"After the second startup, the requests should go through the fresh client: "
            f"{spy.story()}."
        )
    assert fresh.is_closed, f"After the second shutdown: {spy.story()}."


async def test_two_apps_running_at_once_each_use_their_own_client(
    spy: ClientSpy, deadline: Deadline
) -> None:
    one = PricesService()
    other_prices = {"ACME": ("130.00", "USD"), "SAP": ("201.00", "EUR")}
    other = PricesService(prices=other_prices)
    first_app = create_app(settings_for(one))
    second_app = create_app(settings_for(other))
    async with (
        Server(first_app, spy, deadline) as first,
        Server(second_app, spy, deadline) as second,
    ):
        assert len(spy.clients()) == 2, (
            f"Two apps were started, each with its own settings: {spy.story()}. Each app's "
            "lifespan makes a client of its own, from that app's settings."
        )
        for server, service, prices in [(first, one, PRICES), (second, other, other_prices)]:
            response = await server.get("/quotes/SAP")
            check_status(response, "/quotes/SAP", 200, service)
            assert response.json() == quote("SAP", prices), (
                f"Two apps run at once, each with its own prices service; one of them "
                f"answered {response.json()}, its own service says {quote('SAP', prices)}: "
                "it used the other app's client or settings. Keep the client in this app's "
                "state (yield it from the lifespan, or app.state), never in a module-level "
                "variable."
            )
        await second.stop()
        response = await first.get("/quotes/ACME")
        check_status(response, "/quotes/ACME", 200, one)
    assert all(client.is_closed for client in spy.clients()), (
        f"Both apps have shut down: {spy.story()}."
    )


async def test_an_unknown_symbol_is_a_404(spy: ClientSpy, deadline: Deadline) -> None:
    service = PricesService()
    async with Server(create_app(settings_for(service)), spy, deadline) as server:
        for url in ["/quotes/NOPE", "/overview/NOPE"]:
            response = await server.get(url)
            assert response.status_code == 404, (
                f"GET {url}: the prices service answered 404 (no such symbol), and your app "
                f"answered {response.status_code} {response.text[:200]}. An unknown symbol "
                "is the client's mistake, not a failure of the prices service: answer 404."
            )
            check_body(response, url, {"detail": "Unknown symbol: NOPE"})
        response = await server.get("/quotes/GLOBEX")
        check_status(response, "/quotes/GLOBEX", 200, service)


FAILURES = {
    "503 from the service": ("BROKEN", False),
    "500 from the service": ("CRASH", False),
    "202 from the service": ("PENDING", False),
    "connection refused": ("ACME", True),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_failing_prices_service_is_a_502_and_the_client_still_works(
    failure: str, spy: ClientSpy, deadline: Deadline
) -> None:
    symbol, down = FAILURES[failure]
    service = PricesService()
    async with Server(create_app(settings_for(service)), spy, deadline) as server:
        service.down = down
        for url in [f"/quotes/{symbol}", f"/overview/{symbol}"]:
            response = await server.get(url)
            assert response.status_code == 502, (
                f"GET {url}, with the prices service failing ({failure}), answered "
                f"{response.status_code} {response.text[:200]}. When the service you "
                "depend on fails (any answer but 200 and 404 is a failure), answer 502 Bad "
                "Gateway: it is not your client's fault (4xx), and not a bug in your code "
                "(500)."
            )
            check_body(response, url, UNAVAILABLE)
        service.down = False
        response = await server.get("/quotes/ACME")
        check_status(response, "/quotes/ACME", 200, service)
        client = the_one_client(spy, f"After the failures ({failure}) and a good request")
        assert not client.is_closed and len(spy.senders()) == 1, (
            f"After the prices service failed ({failure}), the app should go on with the "
            f"same client: {spy.story()}. A failed call does not break the client; don't "
            "close or replace it."
        )


async def test_a_prices_service_that_never_answers_is_a_502_after_the_timeout(
    spy: ClientSpy, deadline: Deadline
) -> None:
    service = PricesService()
    timeout = 1.5
    loop = asyncio.get_running_loop()
    app = create_app(settings_for(service, timeout=timeout))
    async with Server(app, spy, deadline) as server:
        for url in ["/quotes/SLOW", "/overview/SLOW"]:
            start = loop.time()
            response = await server.get(
                url,
                hung=(
                    f"GET {url} waited 30 s for a prices service that never answers, and "
                    "was still waiting. An upstream call needs a timeout, or one hung "
                    "service hangs every request: give the client timeout=settings.timeout."
                ),
            )
            seconds = took(loop, start)
            assert response.status_code == 502, (
                f"GET {url}: the prices service never answered, and after {seconds} s your "
                f"app answered {response.status_code} {response.text[:200]}; expected 502 "
                f"after settings.timeout ({timeout} s)."
            )
            check_body(response, url, UNAVAILABLE)
            assert seconds == timeout, (
                f"GET {url} gave up on the silent prices service after {seconds} s; "
                f"settings.timeout is {timeout} s."
                + (" 5 s is httpx's default timeout." if seconds == 5 else "")
                + " Give the client timeout=settings.timeout."
            )
        response = await server.get("/quotes/ACME")
        check_status(response, "/quotes/ACME", 200, service)
        client = the_one_client(spy, "After the timeouts and a good request")
        assert not client.is_closed, (
            f"After the timeouts, the app should go on with the same client: {spy.story()}."
        )


async def test_the_client_can_be_swapped_with_dependency_overrides(
    spy: ClientSpy, deadline: Deadline
) -> None:
    own = PricesService()  # the app's configured service: with the override it sees nothing
    stand_in_prices = {"ACME": ("99.99", "USD")}
    double = PricesService(prices=stand_in_prices, companies={"ACME": "Acme (test double)"})
    app = create_app(settings_for(own))
    stand_in = spy.ours(
        httpx.AsyncClient(
            transport=double.network,
            base_url=PRICES_URL,
            headers={"X-Api-Key": API_KEY},
            timeout=2.5,
        )
    )

    async def get_stand_in() -> httpx.AsyncClient:
        return stand_in

    app.dependency_overrides[get_http_client] = get_stand_in
    async with stand_in, Server(app, spy, deadline) as server:
        response = await server.get("/quotes/ACME")
        check_status(response, "/quotes/ACME", 200, double)
        assert not own.calls and response.json() == quote("ACME", stand_in_prices), (
            f"With app.dependency_overrides[get_http_client] set to a stand-in client, GET "
            f"/quotes/ACME answered {response.json()}, and the app's own prices service "
            f"got {own.calls}. Endpoints take the client by injection only (`client: "
            "HttpClient`, that is Annotated[httpx.AsyncClient, Depends(get_http_client)]): "
            "an endpoint that reads app.state itself can't be handed a fake in a test."
        )
        response = await server.get("/overview/ACME")
        check_status(response, "/overview/ACME", 200, double)
        expected = {"name": "Acme (test double)", **quote("ACME", stand_in_prices)}
        assert not own.calls and response.json() == expected, (
            f"With the stand-in client, GET /overview/ACME answered {response.json()} and "
            f"the app's own prices service got {own.calls}; expected {expected}, all from "
            "the stand-in."
        )


@pytest.mark.parametrize("size", [None, 7], ids=["default settings", "7 connections"])
async def test_without_a_transport_the_client_pools_connections_within_the_limits(
    size: int | None, spy: ClientSpy, deadline: Deadline
) -> None:
    if size is None:
        app = create_app()  # Settings() then: the real prices service, its own pool size
        what = "create_app() (no settings given)"
        size = Settings().max_connections
    else:
        settings = Settings(prices_url="https://prices.example.com", max_connections=size)
        app = create_app(settings)
        what = f"create_app(Settings(max_connections={size}))"
    async with Server(app, spy, deadline):  # no request: nothing goes out
        client = the_one_client(spy, f"Right after the startup of {what}")
        assert spy.pool_limits, (
            f"{what}: with settings.transport None, the client should talk to the network "
            "through httpx's own pooled transport; none was made. Pass "
            "transport=settings.transport (None means the default) or build "
            "httpx.AsyncHTTPTransport(limits=...) yourself."
        )
        sizes = sorted({limits.max_connections for limits in spy.pool_limits}, key=str)
        assert sizes == [size], (
            f"{what}: the client's connection pool allows "
            f"{sizes[0] if len(sizes) == 1 else sizes} connections at once; "
            f"settings.max_connections is {size} (httpx's default is 100). Give the client "
            "limits=httpx.Limits(max_connections=settings.max_connections)."
        )
    assert client.is_closed, f"After shutdown: {spy.story()}."
