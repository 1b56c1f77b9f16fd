"""Right: a Keys class with versioned prefixes, try/except/else, keyword arguments to the
service, If-None-Match: * too."""

import hashlib
import json
import os
from collections.abc import AsyncIterator
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


def etag_of(body: bytes) -> str:
    h = hashlib.sha256()
    h.update(body)
    return f'"{h.hexdigest()}"'


class Keys:
    """Every key of the app, in one place: the readers and the writers share them."""

    @staticmethod
    def forecast(city: str, days: int, units: str) -> str:
        return f"forecast:v1:{city}|{days}|{units}"

    @staticmethod
    def article(slug: str) -> str:
        return f"article:v1:{slug}"


@app.get("/forecast/{city}")
async def forecast(
    city: str,
    redis: RedisDep,
    weather: WeatherDep,
    days: Annotated[int, Query(ge=1, le=7)] = 3,
    units: Literal["metric", "imperial"] = "metric",
) -> dict[str, Any]:
    key = Keys.forecast(city, days, units)
    text = await redis.get(key)
    if text:
        data: dict[str, Any] = json.loads(text)
    else:
        try:
            data = await weather.forecast(city=city, days=days, units=units)
        except WeatherUnavailable as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc
        else:
            await redis.set(key, json.dumps(data), ex=FORECAST_TTL)
    return data


@app.get("/articles/{slug}")
async def read_article(
    slug: str,
    redis: RedisDep,
    articles: ArticlesDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    key = Keys.article(slug)
    text = await redis.get(key)
    if text is None:
        found = await articles.load(slug)
        if found is None:
            raise HTTPException(status_code=404, detail="Article not found")
        text = json.dumps(found)
        await redis.set(key, text, ex=ARTICLE_TTL)
    body = text.encode("utf-8")
    etag = etag_of(body)
    cache_headers = {"ETag": etag, "Cache-Control": "max-age=" + str(ARTICLE_MAX_AGE)}
    if if_none_match in (etag, "*"):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=cache_headers)
    response = Response(content=body, media_type="application/json")
    response.headers.update(cache_headers)
    return response


@app.put("/articles/{slug}")
async def save_article(
    slug: str, data: ArticleIn, redis: RedisDep, articles: ArticlesDep
) -> dict[str, Any]:
    article = {"slug": slug, "title": data.title, "text": data.text}
    await articles.save(slug, article)
    deleted = await redis.delete(Keys.article(slug))
    assert deleted in (0, 1)
    return article
