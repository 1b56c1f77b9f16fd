"""Right: one cache-aside helper for both reads, md5 ETags, If-None-Match read as a list with
weak comparison, UNLINK to invalidate."""

import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from redis.asyncio import Redis

FORECAST_TTL = 600  # seconds a cached forecast lives in Redis
ARTICLE_TTL = 3600  # seconds a cached article lives in Redis
ARTICLE_MAX_AGE = 60  # seconds a client may reuse an article before it asks again


class WeatherUnavailable(Exception):
    """What the weather service raises when it cannot answer right now."""


class WeatherService(Protocol):
    async def forecast(self, city: str, days: int, units: str) -> dict[str, Any]:
        """The forecast for `city`, `days` days ahead, in `units`: a JSON-ready dict.

        Slow (a second or so) and billed per call: that is why it is cached. It may
        raise WeatherUnavailable.
        """
        ...


class ArticleStore(Protocol):
    async def load(self, slug: str) -> dict[str, Any] | None:
        """The article as a JSON-ready dict, or None when there is none. A slow query."""
        ...

    async def save(self, slug: str, article: dict[str, Any]) -> None:
        """Create or replace the article. Once it returns, `load` gives the new one."""
        ...


class ArticleIn(BaseModel):
    """What a client sends to create or replace an article."""

    title: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=100_000)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Given: one Redis client for the app's whole life (kata 21 is about lifespans)."""
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    app.state.redis = Redis.from_url(url, decode_responses=True)
    try:
        yield
    finally:
        await app.state.redis.aclose()


app = FastAPI(title="Forecasts and articles, cached", lifespan=lifespan)


async def get_redis(request: Request) -> Redis:
    """Given: the app's Redis client, made by the lifespan.

    It was made with `decode_responses=True`: `await redis.get(key)` gives back a `str`,
    or None when the key is not there. The tests hand the app their own client (an
    in-process fakeredis, or a real server) with `app.dependency_overrides[get_redis]`.
    """
    client: Redis = request.app.state.redis
    return client


def get_weather() -> WeatherService:
    """Given: the weather service. The tests provide one with dependency_overrides."""
    raise RuntimeError("No weather service here: the tests provide one.")


def get_articles() -> ArticleStore:
    """Given: the article store. The tests provide one with dependency_overrides."""
    raise RuntimeError("No article store here: the tests provide one.")


RedisDep = Annotated[Redis, Depends(get_redis)]
WeatherDep = Annotated[WeatherService, Depends(get_weather)]
ArticlesDep = Annotated[ArticleStore, Depends(get_articles)]


async def cached_text(
    redis: Redis, key: str, ttl: int, make: Callable[[], Awaitable[str | None]]
) -> str | None:
    """Cache-aside for text: the cached text, or make it, keep it for ttl seconds."""
    text = await redis.get(key)
    if text is None:
        text = await make()
        if text is not None:
            await redis.set(key, text, ex=ttl)
    return text


def etag_of(body: bytes) -> str:
    return f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'


def matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return etag in tags


@app.get("/forecast/{city}")
async def forecast(
    city: str,
    redis: RedisDep,
    weather: WeatherDep,
    days: Annotated[int, Query(ge=1, le=7)] = 3,
    units: Literal["metric", "imperial"] = "metric",
) -> dict[str, Any]:
    async def make() -> str:
        try:
            return json.dumps(await weather.forecast(city, days, units))
        except WeatherUnavailable as error:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error

    text = await cached_text(redis, f"weather:{units}:{days}:{city}", FORECAST_TTL, make)
    assert text is not None
    answer: dict[str, Any] = json.loads(text)
    return answer


@app.get("/articles/{slug}")
async def read_article(
    slug: str,
    redis: RedisDep,
    articles: ArticlesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    async def make() -> str | None:
        article = await articles.load(slug)
        return None if article is None else json.dumps(article, ensure_ascii=False)

    body = await cached_text(redis, f"article:{slug}", ARTICLE_TTL, make)
    if body is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such article")
    etag = etag_of(body.encode())
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={ARTICLE_MAX_AGE}"}
    if matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@app.put("/articles/{slug}")
async def save_article(
    slug: str, data: ArticleIn, redis: RedisDep, articles: ArticlesDep
) -> dict[str, Any]:
    article = {"slug": slug, "title": data.title, "text": data.text}
    await articles.save(slug, article)
    await redis.unlink(f"article:{slug}")
    return article
