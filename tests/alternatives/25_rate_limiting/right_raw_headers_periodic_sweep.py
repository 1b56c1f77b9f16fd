"""Right answer (blind review): raw ASGI headers, a release helper with an early-exit check,
a once-per-window sweep and middleware given to the FastAPI constructor.
"""

import asyncio
import math

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from starlette.middleware import Middleware
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
    """Who is asking: "key:<X-API-Key>", else "addr:<client host>", else "anonymous"."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-api-key":
            api_key = value.decode("latin-1")
            if api_key:
                return "key:" + api_key
            break
    client = scope.get("client")
    if client is None:
        return "anonymous"
    host = client[0]
    return "addr:" + host


class ConcurrencyLimitMiddleware:
    """A pure ASGI middleware: at most `max_in_flight` requests of one client at once."""

    def __init__(self, app: ASGIApp, max_in_flight: int, in_flight: dict[str, int]) -> None:
        self.app = app  # the rest of the app, which this middleware wraps
        self.max_in_flight = max_in_flight
        self.in_flight = in_flight  # client key -> its requests in flight now

    def _release(self, key: str) -> None:
        remaining = self.in_flight.pop(key) - 1
        if remaining > 0:
            self.in_flight[key] = remaining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        key = client_key(scope)
        current = self.in_flight.get(key, 0)
        if current < self.max_in_flight:
            self.in_flight[key] = current + 1
            try:
                await self.app(scope, receive, send)
            finally:
                self._release(key)
            return
        too_many = JSONResponse(
            content={"detail": f"At most {self.max_in_flight} requests in flight per client"},
            status_code=429,
            headers={"Retry-After": "1"},
        )
        await too_many(scope, receive, send)


class FixedWindowLimiter:
    """At most `max_requests` requests of one client per window of `window` seconds."""

    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        # client key -> (when its window opened, how many requests it let in)
        self.windows: dict[str, tuple[float, int]] = {}
        self._next_sweep: float | None = None

    def _sweep(self, now: float) -> None:
        """At most once per window length: drop every window that is over."""
        if self._next_sweep is not None and now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        over = [k for k, (start, _) in self.windows.items() if now >= start + self.window]
        for k in over:
            del self.windows[k]

    def hit(self, key: str, now: float) -> int:
        """0 (and counted) when there is room, else the whole seconds left, at least 1."""
        self._sweep(now)
        window = self.windows.get(key)
        if window is None or now >= window[0] + self.window:
            self.windows[key] = (now, 1) if self.max_requests > 0 else (now, 0)
            if self.max_requests > 0:
                return 0
            return max(1, math.ceil(self.window))
        start, count = window
        if count >= self.max_requests:
            return max(1, math.ceil(start + self.window - now))
        self.windows[key] = (start, count + 1)
        return 0

    def __len__(self) -> int:
        """How many clients this limiter keeps a window for."""
        return len(self.windows)


async def rate_limit(request: Request) -> None:
    """An app-wide dependency: the window limit, checked before every endpoint."""
    limiter: FixedWindowLimiter = request.app.state.window_limiter
    loop = asyncio.get_running_loop()
    wait = limiter.hit(client_key(request.scope), loop.time())
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=(
                f"Rate limit exceeded: at most {limiter.max_requests} requests "
                f"per {limiter.window:g} s"
            ),
            headers={"Retry-After": f"{wait:d}"},
        )


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    """A fresh app with both limits on every route, and state of its own."""
    in_flight: dict[str, int] = {}
    app = FastAPI(
        dependencies=[Depends(rate_limit)],
        middleware=[
            Middleware(ConcurrencyLimitMiddleware, max_in_flight=max_in_flight, in_flight=in_flight)
        ],
    )
    app.state.in_flight = in_flight
    app.state.window_limiter = FixedWindowLimiter(max_requests=max_requests, window=window)
    app.include_router(router)
    return app
