"""Mutant: request ids from a counter: unique here, but not across servers, and not UUIDs."""

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Given: the log that add_process_time writes one line to for every request.
access_log = logging.getLogger("timing_api.access")
_counter = itertools.count(1)

# Given: a few endpoints to try your middleware on. The tests add endpoints of their own.
router = APIRouter()


@router.get("/slow")
async def slow(seconds: float = 1.0) -> dict[str, float]:
    """Answers after `seconds`."""
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@router.get("/items/{item_id}")
async def read_item(item_id: int) -> dict[str, int]:
    """Looks for half a second, then answers 404: there are no items."""
    await asyncio.sleep(0.5)
    raise HTTPException(status_code=404, detail=f"Item {item_id} not found")


@router.get("/whoami")
async def whoami(request: Request) -> dict[str, str]:
    """The request id, as the endpoint sees it."""
    return {"request_id": request.state.request_id}


async def add_process_time(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """An "http" middleware: time every request, say so in a header, and log it.

    - X-Process-Time: the seconds from the moment this middleware got the request to
      the moment `call_next` gave back the response, as a decimal number of seconds
      ("1.5002", "0.25"; not milliseconds). On every response that `call_next` gives
      back: 200s, 404s for unknown paths, HTTPExceptions, 422s.
    - Measure with a monotonic clock, `time.perf_counter()`: the wall clock
      (`time.time()`) can be set back or forward while a request runs.
    - Then log one line on `access_log` at INFO level, with the method, the path, the
      status code, the process time and the request id, which RequestIdMiddleware (it
      runs before this one) left in `request.state.request_id`.
    - An unhandled error (not an HTTPException) that comes out of `call_next` is not
      yours: let it go on up. Starlette's ServerErrorMiddleware, outside every middleware
      you add, turns it into a 500 (which then has none of your headers).
    Requests run at the same time: keep what belongs to one request in local variables.
    """
    start = time.perf_counter()
    response = await call_next(request)
    elapsed = time.perf_counter() - start
    response.headers["X-Process-Time"] = f"{elapsed:.6f}"
    access_log.info(
        "%s %s %d %.6fs request_id=%s",
        request.method,
        request.url.path,
        response.status_code,
        elapsed,
        request.state.request_id,
    )
    return response


class RequestIdMiddleware:
    """A pure ASGI middleware: every HTTP request gets a request id.

    - The id is the request's X-Request-ID header when it has a non-empty one, so that
      a client's id follows its request through your logs. Otherwise it is a new
      `str(uuid.uuid4())`, different for every request.
    - Before the rest of the app runs, store the id in the scope's "state" dict (create
      that dict if the scope has none): that is where `request.state.request_id` reads it.
    - Add it to the response as the X-Request-ID header, keeping the other headers.
    - Any other kind of connection (scope["type"] "websocket" or "lifespan") passes
      through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app  # the rest of the app, which this middleware wraps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = Headers(scope=scope).get("x-request-id") or str(next(_counter))
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_request_id)


def create_app() -> FastAPI:
    """Build the app: the endpoints of `router`, and both middlewares.

    add_process_time is added as an "http" middleware, and RequestIdMiddleware so that
    it runs first, outside add_process_time: the request id must be set by the time
    add_process_time logs the request.
    """
    app = FastAPI(title="Timing")
    app.include_router(router)
    app.middleware("http")(add_process_time)  # added first: the inner one
    app.add_middleware(RequestIdMiddleware)  # added last: the outermost, runs first
    return app
