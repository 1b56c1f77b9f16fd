"""Right answer (blind review): a small Window dataclass, a context manager holding the slot,
request.client in the dependency-free helpers and a sweep timestamp.
"""

import asyncio
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
    """Who is asking: the string that all the limits of one client are kept under."""
    headers = Headers(scope=scope)
    if key := headers.get("X-API-Key", ""):
        return f"key:{key}"
    match scope.get("client"):
        case (host, *_):
            return f"addr:{host}"
        case _:
            return "anonymous"


class ConcurrencyLimitMiddleware:
    """A pure ASGI middleware: at most `max_in_flight` requests of one client at once."""

    def __init__(self, app: ASGIApp, max_in_flight: int, in_flight: dict[str, int]) -> None:
        self.app = app  # the rest of the app, which this middleware wraps
        self.max_in_flight = max_in_flight
        self.in_flight = in_flight  # client key -> its requests in flight now

    @contextmanager
    def _slot(self, key: str) -> Iterator[None]:
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        try:
            yield
        finally:
            self.in_flight[key] -= 1
            if self.in_flight[key] <= 0:
                del self.in_flight[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            key = client_key(scope)
            if self.in_flight.get(key, 0) >= self.max_in_flight:
                await JSONResponse(
                    {"detail": "Too many requests in flight, try again shortly"},
                    status_code=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": "1"},
                )(scope, receive, send)
                return
            with self._slot(key):
                await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


@dataclass
class Window:
    start: float
    count: int = 0


class FixedWindowLimiter:
    """At most `max_requests` requests of one client per window of `window` seconds."""

    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        # client key -> (when its window opened, how many requests it let in)
        self.windows: dict[str, tuple[float, int]] = {}
        self.last_sweep = -math.inf

    def hit(self, key: str, now: float) -> int:
        """0 and counted when there is room, else ceil(seconds left) (at least 1)."""
        if now - self.last_sweep >= self.window:
            self.last_sweep = now
            self.windows = {k: w for k, w in self.windows.items() if w[0] + self.window > now}
        current = Window(*self.windows[key]) if key in self.windows else None
        if current is None or current.start + self.window <= now:
            current = Window(start=now)
        if current.count < self.max_requests:
            current.count += 1
            self.windows[key] = (current.start, current.count)
            return 0
        return max(1, math.ceil(current.start + self.window - now))

    def __len__(self) -> int:
        """How many clients this limiter keeps a window for."""
        return len(self.windows)


async def rate_limit(request: Request) -> None:
    """An app-wide dependency: the window limit, checked before every endpoint."""
    now = asyncio.get_running_loop().time()
    key = client_key(request.scope)
    if retry_after := request.app.state.window_limiter.hit(key, now):
        raise HTTPException(
            status_code=429,
            detail="Rate limit exceeded",
            headers={"Retry-After": str(int(retry_after))},
        )


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    """A fresh app with both limits on every route, and state of its own."""
    app = FastAPI(dependencies=[Depends(rate_limit)])
    app.state.window_limiter = FixedWindowLimiter(max_requests, window)
    app.state.in_flight = in_flight = {}
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        max_in_flight=max_in_flight,
        in_flight=in_flight,
    )
    app.include_router(router)
    return app
