"""Right: an asyncio.Lock around the check and the count (not needed, but harmless),
the middleware finding its dict through scope["app"].state, the raw headers scanned by
hand, the window kept in two dicts with the ceiling done by integer division, and the
window checked by an app-wide dependency.
"""

import asyncio

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

router = APIRouter()


@router.get("/quote")
async def quote() -> dict[str, str]:
    """A quote of the day."""
    await asyncio.sleep(0.1)
    return {"quote": "Premature optimization is the root of all evil."}


def client_key(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name.lower() == b"x-api-key" and value:
            return "key:" + value.decode("latin-1")
    client = scope.get("client")
    return "anonymous" if not client else "addr:" + str(client[0])


class ConcurrencyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_in_flight: int, in_flight: dict[str, int]) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.in_flight = in_flight
        self.lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        in_flight: dict[str, int] = scope["app"].state.in_flight
        key = client_key(scope)
        async with self.lock:
            admitted = in_flight.get(key, 0) < self.max_in_flight
            if admitted:
                in_flight[key] = in_flight.get(key, 0) + 1
        if not admitted:
            response = JSONResponse(
                status_code=429,
                content={"detail": "Slow down: too many requests at once."},
                headers={"retry-after": "1"},
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            if in_flight[key] > 1:
                in_flight[key] -= 1
            else:
                in_flight.pop(key)


class FixedWindowLimiter:
    def __init__(self, max_requests: int, window: float) -> None:
        self.max_requests = max_requests
        self.window = window
        self.windows: dict[str, float] = {}  # key -> start
        self.counts: dict[str, int] = {}

    def _forget(self, key: str) -> None:
        del self.windows[key]
        del self.counts[key]

    def hit(self, key: str, now: float) -> int:
        for old in [k for k, start in self.windows.items() if start + self.window <= now]:
            self._forget(old)
        if key not in self.windows:
            self.windows[key] = now
            self.counts[key] = 0
        if self.counts[key] < self.max_requests:
            self.counts[key] += 1
            return 0
        left = self.windows[key] + self.window - now
        return int(-(-left // 1))

    def __len__(self) -> int:
        return len(self.windows)


async def rate_limit(request: Request) -> None:
    loop = asyncio.get_running_loop()
    wait = request.app.state.window_limiter.hit(client_key(request.scope), loop.time())
    if wait:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"Rate limit reached; retry in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )


def create_app(max_in_flight: int = 4, max_requests: int = 60, window: float = 60.0) -> FastAPI:
    app = FastAPI(title="Quotes", dependencies=[Depends(rate_limit)])
    app.state.in_flight = {}
    app.state.window_limiter = FixedWindowLimiter(max_requests, window)
    app.add_middleware(
        ConcurrencyLimitMiddleware, max_in_flight=max_in_flight, in_flight=app.state.in_flight
    )
    app.include_router(router)
    return app
