"""Right: write-through on PUT (the same json dump as the read), SET then EXPIRE in a MULTI
pipeline, a timedelta TTL."""

import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
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


def dump(article: dict[str, Any]) -> str:
    """The one spelling of an article's JSON: the read and the write both use it."""
    return json.dumps(article, separators=(",", ":"), sort_keys=True)


def etag_of(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


@app.get("/forecast/{city}")
async def forecast(
    city: str,
    redis: RedisDep,
    weather: WeatherDep,
    days: Annotated[int, Query(ge=1, le=7)] = 3,
    units: Literal["metric", "imperial"] = "metric",
) -> dict[str, Any]:
    key = ":".join(["forecast", city, str(days), units])
    if (hit := await redis.get(key)) is not None:
        cached: dict[str, Any] = json.loads(hit)
        return cached
    try:
        answer = await weather.forecast(city, days, units)
    except WeatherUnavailable:
        raise HTTPException(503, "Try again later") from None
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, json.dumps(answer))
        pipe.expire(key, timedelta(seconds=FORECAST_TTL))
        await pipe.execute()
    return answer


@app.get("/articles/{slug}")
async def read_article(
    slug: str,
    redis: RedisDep,
    articles: ArticlesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    key = f"article:{slug}"
    body = await redis.get(key)
    if body is None:
        article = await articles.load(slug)
        if article is None:
            raise HTTPException(404, "Not found")
        body = dump(article)
        await redis.set(key, body, ex=timedelta(seconds=ARTICLE_TTL))
    raw = body.encode()
    etag = etag_of(raw)
    headers = {"etag": etag, "cache-control": f"max-age={ARTICLE_MAX_AGE}"}
    if if_none_match is not None and if_none_match == etag:
        return Response(None, 304, headers)
    return Response(raw, 200, headers, media_type="application/json")


@app.put("/articles/{slug}")
async def save_article(
    slug: str, data: ArticleIn, redis: RedisDep, articles: ArticlesDep
) -> dict[str, Any]:
    article = {"slug": slug} | data.model_dump()
    await articles.save(slug, article)
    await redis.set(f"article:{slug}", dump(article), ex=ARTICLE_TTL)
    return article
