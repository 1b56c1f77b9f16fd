"""Mutant: the window is over only after start + window (>), not at it."""

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
    client = scope.get("client")
    if client:
        return f"addr:{client[0]}"
    return "anonymous"


class ConcurrencyLimitMiddleware:
    """A pure ASGI middleware: at most `max_in_flight` requests of one client at once."""

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
                {"detail": f"Too many requests in flight; at most {self.max_in_flight}."},
                status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": "1"},
            )
            await response(scope, receive, send)
            return
        # No await between the check and the count: no other request can slip in.
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:  # a response sent, an error, a cancel: the slot comes back once
            left = self.in_flight[key] - 1
            if left:
                self.in_flight[key] = left
            else:
                del self.in_flight[key]  # an idle client leaves nothing behind


class FixedWindowLimiter:
    """At most `max_requests` requests of one client per window of `window` seconds."""

    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        # client key -> (when its window started, how many requests it let through)
        self.windows: dict[str, tuple[float, int]] = {}
        self.next_sweep: float | None = None

    def hit(self, key: str, now: float) -> int:
        """Count one request of `key` at time `now`: 0 to let it through, else the
        Retry-After seconds."""
        self._sweep(now)
        start, count = self.windows.get(key, (now, 0))
        if now > start + self.window:  # that window is over: this request opens a new one
            start, count = now, 0
        if count < self.max_requests:
            self.windows[key] = (start, count + 1)
            return 0
        return max(1, math.ceil(start + self.window - now))  # 0 at the edge -> 1

    def _sweep(self, now: float) -> None:
        """At most once a window, forget every client whose window is over."""
        if self.next_sweep is not None and now < self.next_sweep:
            return
        self.windows = {
            key: (start, count)
            for key, (start, count) in self.windows.items()
            if now < start + self.window
        }
        self.next_sweep = now + self.window

    def __len__(self) -> int:
        """How many clients this limiter keeps a window for."""
        return len(self.windows)


async def rate_limit(request: Request) -> None:
    """An app-wide dependency: the window limit, checked before every endpoint."""
    limiter: FixedWindowLimiter = request.app.state.window_limiter
    now = asyncio.get_running_loop().time()  # the loop's monotonic clock
    retry_after = limiter.hit(client_key(request.scope), now)
    if retry_after:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Too many requests; try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    """A fresh app with both limits on every route, and state of its own."""
    app = FastAPI(title="Quotes", dependencies=[Depends(rate_limit)])
    app.state.in_flight = {}
    app.state.window_limiter = FixedWindowLimiter(max_requests, window)
    app.add_middleware(
        ConcurrencyLimitMiddleware, max_in_flight=max_in_flight, in_flight=app.state.in_flight
    )
    app.include_router(router)
    return app
