"""Right: both limits in one pure ASGI middleware, a dataclass per window, and the
loop's clock read in the middleware. The in-flight check comes first; the window is
checked only for a request that got a slot (and that slot comes back in `finally`).
"""

import asyncio
import math
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI, Request, status
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
    headers = Headers(scope=scope)
    if key := headers.get("X-API-Key", ""):
        return f"key:{key}"
    match scope.get("client"):
        case (host, _):
            return f"addr:{host}"
        case _:
            return "anonymous"


def too_many(detail: str, retry_after: int) -> JSONResponse:
    return JSONResponse(
        {"detail": detail},
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        headers={"Retry-After": str(retry_after)},
    )


@dataclass
class Window:
    start: float
    count: int = 0


class FixedWindowLimiter:
    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        self.windows: dict[str, Window] = {}
        self.last_sweep = -math.inf

    def hit(self, key: str, now: float) -> int:
        if now - self.last_sweep >= self.window:
            self.last_sweep = now
            for other, w in list(self.windows.items()):
                if now - w.start >= self.window:
                    del self.windows[other]
        w = self.windows.get(key)
        if w is None or now - w.start >= self.window:
            w = self.windows[key] = Window(now)
        if w.count == self.max_requests:
            return max(1, math.ceil(w.start + self.window - now))
        w.count += 1
        return 0

    def __len__(self) -> int:
        return len(self.windows)


class ConcurrencyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_in_flight: int,
        in_flight: dict[str, int],
        limiter: FixedWindowLimiter | None = None,
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = in_flight
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        key = client_key(scope)
        busy = self.in_flight.get(key, 0)
        if busy >= self.max_in_flight:
            return await too_many("Too many requests in flight.", 1)(scope, receive, send)
        self.in_flight[key] = busy + 1
        try:
            if self.limiter is not None:
                wait = self.limiter.hit(key, asyncio.get_running_loop().time())
                if wait:
                    return await too_many("Too many requests.", wait)(scope, receive, send)
            await self.app(scope, receive, send)
        finally:
            self.in_flight[key] -= 1
            if not self.in_flight[key]:
                self.in_flight.pop(key)


async def rate_limit(request: Request) -> None:
    """Unused here: the middleware checks the window itself."""


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    app = FastAPI(title="Quotes")
    app.state.in_flight = {}
    app.state.window_limiter = FixedWindowLimiter(max_requests, window)
    app.add_middleware(
        ConcurrencyLimitMiddleware,
        max_in_flight=max_in_flight,
        in_flight=app.state.in_flight,
        limiter=app.state.window_limiter,
    )
    app.include_router(router)
    return app
