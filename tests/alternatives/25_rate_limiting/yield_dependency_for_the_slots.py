"""Right: the in-flight limit as an app-wide `yield` dependency instead of a middleware.

FastAPI runs the code after `yield` once the response has been sent (a streamed body
too), and on an error or a cancel, so the slot comes back at the right moment. The
in-flight dependency is listed first, so a request it turns away never counts in the
window.
"""

import asyncio
import math
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

router = APIRouter()


@router.get("/quote")
async def quote() -> dict[str, str]:
    """A quote of the day."""
    await asyncio.sleep(0.1)
    return {"quote": "Premature optimization is the root of all evil."}


def client_key(scope: Scope) -> str:
    api_key = Headers(scope=scope).get("x-api-key")
    if api_key:
        return "key:" + api_key
    if scope.get("client") is None:
        return "anonymous"
    host, _port = scope["client"]
    return "addr:" + host


class ConcurrencyLimitMiddleware:
    """Kept from the stub, unused: the limit lives in `in_flight_slot` below."""

    def __init__(self, app: ASGIApp, max_in_flight: int, in_flight: dict[str, int]) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class FixedWindowLimiter:
    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        self.windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, now: float) -> int:
        # sweep on every call: simple, and fine for a few thousand clients
        for other in [k for k, (start, _) in self.windows.items() if now >= start + self.window]:
            del self.windows[other]
        start, count = self.windows.setdefault(key, (now, 0))
        if count >= self.max_requests:
            return math.ceil(start + self.window - now)
        self.windows[key] = (start, count + 1)
        return 0

    def __len__(self) -> int:
        return len(self.windows)


async def in_flight_slot(request: Request) -> AsyncIterator[None]:
    in_flight: dict[str, int] = request.app.state.in_flight
    limit: int = request.app.state.max_in_flight
    key = client_key(request.scope)
    if in_flight.get(key, 0) >= limit:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="Too many requests in flight.",
            headers={"Retry-After": "1"},
        )
    in_flight[key] = in_flight.get(key, 0) + 1
    try:
        yield
    finally:
        in_flight[key] -= 1
        if in_flight[key] == 0:
            del in_flight[key]


async def rate_limit(request: Request) -> None:
    limiter: FixedWindowLimiter = request.app.state.window_limiter
    retry_after = limiter.hit(client_key(request.scope), asyncio.get_running_loop().time())
    if retry_after > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="Too many requests.",
            headers={"Retry-After": f"{retry_after}"},
        )


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    app = FastAPI(dependencies=[Depends(in_flight_slot), Depends(rate_limit)])
    app.state.in_flight = {}
    app.state.max_in_flight = max_in_flight
    app.state.window_limiter = FixedWindowLimiter(max_requests, window)
    app.include_router(router)
    return app


_ = JSONResponse  # the stub's imports, kept
