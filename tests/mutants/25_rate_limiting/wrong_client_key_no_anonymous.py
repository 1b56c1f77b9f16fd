"""Mutant (blind review): client_key indexes scope["client"][0] without checking for None: a
request with no address crashes.
"""

import asyncio
import math

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Given: an endpoint to try the limits on. The tests add endpoints of their own.
router = APIRouter()


@router.get("/quote")
async def quote() -> dict[str, str]:
    """A quote of the day."""
    await asyncio.sleep(0.1)  # looking it up takes a moment
    return {"quote": "Premature optimization is the root of all evil."}


def client_key(scope: Scope) -> str:
    """Who is asking: the string that all the limits of one client are kept under.

    - A request with a non-empty X-API-Key header belongs to that key: "key:" + the
      key, exactly as sent (keys are case-sensitive; the header's *name* is not).
    - Otherwise it belongs to the address it came from, `scope["client"][0]`:
      "addr:" + the address. Never a header the client can set (X-Forwarded-For).
    - No key and no address (`scope["client"]` is None): "anonymous", one client.
    The prefixes keep the two kinds apart: a key spelled like an address is not that
    address.
    """
    api_key = Headers(scope=scope).get("x-api-key")
    if api_key:
        return f"key:{api_key}"
    return f"addr:{scope['client'][0]}"


class ConcurrencyLimitMiddleware:
    """A pure ASGI middleware: at most `max_in_flight` requests of one client at once.

    - A request is in flight from the moment it reaches this middleware until the app
      has finished with it: its response completely sent (a streamed body too), or the
      app raised, or the request was cancelled (the client went away).
    - A client that already has `max_in_flight` requests in flight gets, at once, a 429
      with the header `Retry-After: 1` and a JSON body {"detail": "..."}, and the rest
      of the app never sees that request. Nothing ever waits for a slot.
    - `in_flight` maps client_key(scope) -> that client's requests in flight now. A
      client with nothing in flight has no entry at all: the dict must not grow with
      every client the server ever met.
    - Any other kind of connection (scope["type"] "lifespan" or "websocket") passes
      through untouched.
    """

    def __init__(self, app: ASGIApp, max_in_flight: int, in_flight: dict[str, int]) -> None:
        self.app = app  # the rest of the app, which this middleware wraps
        self.max_in_flight = max_in_flight
        self.in_flight = in_flight  # client key -> its requests in flight now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = client_key(scope)
        if self.in_flight.get(key, 0) >= self.max_in_flight:
            response = JSONResponse(
                {"detail": "Too many requests in flight"},
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.in_flight[key] - 1
            if left:
                self.in_flight[key] = left
            else:
                del self.in_flight[key]


class FixedWindowLimiter:
    """At most `max_requests` requests of one client per window of `window` seconds.

    A client's window opens with its first request and lasts `window` seconds: from
    `start` up to, not including, `start + window`. The first request that comes at
    or after that opens the client's next window. Only the requests let in count.
    """

    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        # client key -> (when its window opened, how many requests it let in)
        self.windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, now: float) -> int:
        """One request of client `key` at time `now` (seconds, on the caller's clock).

        Return 0 and count it when the client's window has room. Otherwise return the
        whole seconds until its window ends, rounded up, at least 1: that is the
        Retry-After value.

        Forget clients whose window is over: at the latest, one whole window after a
        client's window ended, a call to hit (for any client) must have dropped it.
        """
        self.windows = {
            k: (start, count)
            for k, (start, count) in self.windows.items()
            if now < start + self.window
        }
        start, count = self.windows.get(key, (now, 0))
        if now >= start + self.window:
            start, count = now, 0
        if count < self.max_requests:
            self.windows[key] = (start, count + 1)
            return 0
        return max(1, math.ceil(start + self.window - now))

    def __len__(self) -> int:
        """How many clients this limiter keeps a window for."""
        return len(self.windows)


async def rate_limit(request: Request) -> None:
    """An app-wide dependency: the window limit, checked before every endpoint.

    Take the limiter from `request.app.state.window_limiter` and the time from the event
    loop's clock, `asyncio.get_running_loop().time()`. Over the limit: raise a 429
    HTTPException with the header Retry-After set to hit's answer.
    """
    now = asyncio.get_running_loop().time()
    retry_after = request.app.state.window_limiter.hit(client_key(request.scope), now)
    if retry_after:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="Too many requests, slow down",
            headers={"Retry-After": str(retry_after)},
        )


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    """A fresh app with both limits on every route, and state of its own.

    - `app.state.in_flight`: a new dict, the very one ConcurrencyLimitMiddleware counts in.
    - `app.state.window_limiter`: a new FixedWindowLimiter(max_requests, window).
    - rate_limit runs before every endpoint of the app, also those added later with
      `app.include_router(...)`: give it to `FastAPI(dependencies=[...])`.
    - ConcurrencyLimitMiddleware wraps the app, with max_in_flight and that dict.
    - The given router (GET /quote) is included.
    A request turned away by one limit uses nothing of the other: the in-flight limit
    is checked first, and a request it turns away never counts in the window.
    """
    app = FastAPI(dependencies=[Depends(rate_limit)])
    app.state.in_flight = {}
    app.state.window_limiter = FixedWindowLimiter(max_requests, window)
    app.add_middleware(
        ConcurrencyLimitMiddleware, max_in_flight=max_in_flight, in_flight=app.state.in_flight
    )
    app.include_router(router)
    return app
