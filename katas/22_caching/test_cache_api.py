"""Kata 22 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import os
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote, urlsplit

import cache_api
import fakeredis
import httpx
import pytest
import redis.asyncio
from cache_api import WeatherUnavailable, app, etag_of, get_articles, get_redis, get_weather

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

SERVICE_SECONDS = 1.0  # one call to the weather service, in event-loop time
LOAD_SECONDS = 0.5  # one article load from the store
SAVE_SECONDS = 2.0  # one article save to the store

# Unset: an in-process fakeredis for every test. Set (redis://host:port/0): a real server.
REDIS_URL = os.environ.get("REDIS_URL", "")

ARTICLES = [
    {"slug": "hello", "title": "Hello", "text": "The first post."},
    {"slug": "café", "title": "Café ☕", "text": "Ünïcödé is welcome here."},
]


def expected_forecast(city: str, days: int, units: str, report: int) -> dict[str, Any]:
    """What the fake service answers: it depends on every parameter."""
    highs = [10 + len(city) + day for day in range(days)]
    if units == "imperial":
        highs = [round(t * 9 / 5 + 32, 1) for t in highs]
    return {"city": city, "days": days, "units": units, "highs": highs, "report": report}


class FakeWeather:
    """A slow, billed weather service: it counts its calls per (city, days, units).

    Every call takes SERVICE_SECONDS of event-loop time. Every answer carries a new
    report number, so an answer from the cache can be told from a fresh one.
    `outages[city]` calls for that city fail with WeatherUnavailable first.
    """

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, int, str]] = Counter()
        self.outages: Counter[str] = Counter()
        self.reports = 0

    async def forecast(self, city: str, days: int, units: str) -> dict[str, Any]:
        self.calls[(city, days, units)] += 1
        await asyncio.sleep(SERVICE_SECONDS)
        if self.outages[city] > 0:
            self.outages[city] -= 1
            raise WeatherUnavailable(f"no forecast for {city} right now")
        self.reports += 1
        return expected_forecast(city, days, units, self.reports)


class FakeArticles:
    """A slow article store that counts its loads per slug.

    A load takes LOAD_SECONDS; a save takes SAVE_SECONDS and is applied at its end, like
    a transaction that commits when it returns.
    """

    def __init__(self) -> None:
        self.articles = {article["slug"]: dict(article) for article in ARTICLES}
        self.loads: Counter[str] = Counter()
        self.saves: list[dict[str, Any]] = []

    async def load(self, slug: str) -> dict[str, Any] | None:
        self.loads[slug] += 1
        await asyncio.sleep(LOAD_SECONDS)
        article = self.articles.get(slug)
        return None if article is None else dict(article)

    async def save(self, slug: str, article: dict[str, Any]) -> None:
        await asyncio.sleep(SAVE_SECONDS)
        self.articles[slug] = dict(article)
        self.saves.append(dict(article))


class _RunsNothing(concurrent.futures.Executor):
    """An executor that runs nothing: its one future is done when the caller says so."""

    def __init__(self, future: concurrent.futures.Future[None]) -> None:
        self.future = future

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[None]:
        return self.future


class HoldTheClock(redis.asyncio.Connection):
    """A connection to a real Redis that keeps the virtual clock still while it waits.

    looptime moves its clock to the next timer as soon as the loop has nothing to run.
    A reply from a real server is I/O it cannot foresee: measured on this project's
    machine, without this class redis-py's own 5 s read timeout (and a test's deadline)
    fired at once in most runs, and a 2 s sleep elsewhere finished before a reply that
    took a millisecond. While a future of `loop.run_in_executor` is pending, looptime
    waits for I/O in real time instead; so every connect and every read keeps one
    pending, from an executor that runs nothing (no thread).
    """

    async def _holding(self, work: Coroutine[Any, Any, Any]) -> Any:
        held: concurrent.futures.Future[None] = concurrent.futures.Future()
        waiter = asyncio.get_running_loop().run_in_executor(_RunsNothing(held), print)
        try:
            return await work
        finally:
            held.set_result(None)
            await waiter

    async def connect(self) -> None:
        await self._holding(super().connect())

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self._holding(super().read_response(*args, **kwargs))


_CLAIM = "asynckata:db:{}"
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def _at_db(url: str, db: int) -> str:
    return urlsplit(url)._replace(path=f"/{db}").geturl()


def _real_redis(url: str) -> redis.asyncio.Redis:
    return redis.asyncio.Redis.from_url(url, decode_responses=True, connection_class=HoldTheClock)


@pytest.fixture
async def redis_client() -> AsyncIterator[redis.asyncio.Redis]:
    """The Redis the app gets from get_redis in this test, empty at the start.

    By default an in-process fakeredis (`fakeredis.FakeAsyncRedis`), a server of its own
    per test. With REDIS_URL set (`redis://host:port/0`), a real server, which other
    test processes may be using at the same moment (verify runs two at once). So each
    test claims a database of its own: on db 0, `SET asynckata:db:<n> <pid>:<token> NX
    EX 120` for n = 1..15, and the first one claimed is the test's. It is flushed before
    and after the test; then the claim is released (only if it is still this test's:
    one that was left behind by a killed process lapses after 120 s) and every client
    is closed.
    """
    if not REDIS_URL:
        fake = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
        try:
            yield fake
        finally:
            await fake.aclose()
        return
    admin = _real_redis(_at_db(REDIS_URL, 0))
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
    try:
        db = None
        for n in range(1, 16):
            if await admin.set(_CLAIM.format(n), token, nx=True, ex=120):
                db = n
                break
        if db is None:
            pytest.fail(f"Databases 1 to 15 of the Redis at {REDIS_URL} are all claimed.")
        client = _real_redis(_at_db(REDIS_URL, db))
        try:
            await client.flushdb()
            yield client
        finally:
            try:
                await client.flushdb()
                await client.aclose()
            finally:
                await admin.eval(_RELEASE, 1, _CLAIM.format(db), token)
    finally:
        await admin.aclose()


class Api:
    """The app, with this test's Redis, weather service and article store plugged in."""

    def __init__(
        self, client: httpx.AsyncClient, cache: redis.asyncio.Redis, deadline: Deadline
    ) -> None:
        self.client = client
        self.cache = cache
        self.deadline = deadline
        self.weather = FakeWeather()
        self.articles = FakeArticles()

    async def get(self, url: str, if_none_match: str | None = None) -> httpx.Response:
        headers = {} if if_none_match is None else {"If-None-Match": if_none_match}
        async with self.deadline(60, f"GET {url}"):
            return await self.client.get(url, headers=headers)

    async def put(self, url: str, body: dict[str, Any]) -> httpx.Response:
        async with self.deadline(60, f"PUT {url}"):
            return await self.client.put(url, json=body)

    async def ttls(self) -> dict[str, int]:
        """Every key in Redis and its time to live in milliseconds (-1: none)."""
        return {key: await self.cache.pttl(key) for key in await self.cache.keys("*")}

    async def expire_everything(self) -> None:
        """What Redis does when the TTLs run out: the keys are gone."""
        keys = await self.cache.keys("*")
        if keys:
            await self.cache.delete(*keys)


@pytest.fixture
async def api(redis_client: redis.asyncio.Redis, deadline: Deadline) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        plugged = Api(client, redis_client, deadline)

        async def test_redis() -> redis.asyncio.Redis:
            return redis_client

        async def test_weather() -> FakeWeather:
            return plugged.weather

        async def test_articles() -> FakeArticles:
            return plugged.articles

        app.dependency_overrides[get_redis] = test_redis
        app.dependency_overrides[get_weather] = test_weather
        app.dependency_overrides[get_articles] = test_articles
        try:
            yield plugged
        finally:
            for dependency in (get_redis, get_weather, get_articles):
                app.dependency_overrides.pop(dependency, None)


def check_json(response: httpx.Response, what: str) -> Any:
    assert response.status_code == 200, (
        f"{what} answered {response.status_code}: {response.text[:300]}"
    )
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), (
        f"{what} answered with Content-Type {content_type!r}. A cached answer is still "
        "JSON: when you send the cached text yourself, use "
        "Response(text, media_type='application/json')."
    )
    return response.json()


def check_forecast(response: httpx.Response, city: str, days: int, units: str) -> Any:
    url = f"GET /forecast/{city}?days={days}&units={units}"
    body = check_json(response, url)
    if isinstance(body, str):
        pytest.fail(
            f"{url} answered a JSON string, {body[:80]!r}..., instead of the forecast "
            "object: the text from Redis was sent as a string. Turn it back into the "
            "object with json.loads before you return it."
        )
    asked = {"city": city, "days": days, "units": units}
    got = {name: body.get(name) for name in asked} if isinstance(body, dict) else body
    if got != asked:
        wrong = [name for name in asked if got.get(name) != asked[name]]
        pytest.fail(
            f"{url} answered the forecast for {got}: another request's forecast, "
            f"served from the cache. Your cache key leaves out {' and '.join(wrong)}: "
            "build the key from every parameter that changes the answer."
        )
    return body


def since(start: float, looptime: Any) -> float:
    """Event-loop seconds since `start`, to looptime's microsecond (no float noise)."""
    return round(float(looptime) - start, 6)


def max_age(response: httpx.Response) -> int | None:
    for directive in response.headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.isdigit():
            return int(value)
    return None


def check_expiry(ttls: dict[str, int], ttl: int, what: str) -> None:
    assert ttls, (
        f"After {what}, Redis holds no key at all. Cache the answer in Redis (the client "
        "from get_redis), with `await redis.set(key, text, ex=...)`."
    )
    forever = [key for key, left in ttls.items() if left < 0]
    assert not forever, (
        f"After {what}, Redis holds {forever[0]!r} with no expiry: it stays there "
        "forever, and so does a stale answer. Give every cached value a TTL: "
        "`await redis.set(key, text, ex=TTL)`."
    )
    assert any(ttl * 1000 - 5000 < left <= ttl * 1000 for left in ttls.values()), (
        f"After {what}, the keys in Redis expire in "
        f"{sorted(round(left / 1000, 1) for left in ttls.values())} seconds; expected "
        f"{ttl} (the setting, read when you cache). `ex=` counts seconds, `px=` "
        "milliseconds."
    )


# ---------------------------------------------------------------------------- forecasts


async def test_a_forecast_is_fetched_once_then_served_from_redis(api: Api, looptime) -> None:
    url = "/forecast/Oslo?days=3&units=metric"
    start = float(looptime)
    first = check_forecast(await api.get(url), "Oslo", 3, "metric")
    assert first == expected_forecast("Oslo", 3, "metric", 1), (
        f"GET {url} answered {first}; expected what the weather service gave: "
        f"{expected_forecast('Oslo', 3, 'metric', 1)}."
    )
    assert since(start, looptime) == SERVICE_SECONDS, (
        f"The first GET {url} took {since(start, looptime):g} s; the weather service "
        f"takes {SERVICE_SECONDS:g} s, and nothing else should take time."
    )
    middle = float(looptime)
    second = check_forecast(await api.get(url), "Oslo", 3, "metric")
    calls = api.weather.calls[("Oslo", 3, "metric")]
    assert calls == 1, (
        f"GET {url} twice called the weather service {calls} times; the second answer "
        "must come from Redis, without calling the service at all. Look in Redis first, "
        "and call the service only when the key is not there."
    )
    assert second == first, (
        f"The second GET {url} answered {second}, the first {first}: a cached answer "
        "is the same one. Store the whole forecast (json.dumps) and give it back "
        "(json.loads)."
    )
    assert since(middle, looptime) == 0, (
        f"The second GET {url}, served from the cache, took {since(middle, looptime):g} s "
        "of event-loop time; a hit waits for nothing but Redis."
    )


async def test_every_parameter_is_part_of_the_key(api: Api) -> None:
    variants = [
        ("Oslo", 3, "metric"),
        ("Bergen", 3, "metric"),
        ("Oslo", 5, "metric"),
        ("Oslo", 3, "imperial"),
        ("São Paulo", 1, "imperial"),
        ("Oslo", 1, "metric"),
        ("oslo", 3, "metric"),  # another city name, as far as the service can tell
    ]
    first: dict[tuple[str, int, str], Any] = {}
    for city, days, units in variants:
        response = await api.get(f"/forecast/{city}?days={days}&units={units}")
        first[(city, days, units)] = check_forecast(response, city, days, units)
    for city, days, units in reversed(variants):  # now every one is cached
        response = await api.get(f"/forecast/{city}?days={days}&units={units}")
        body = check_forecast(response, city, days, units)
        assert body == first[(city, days, units)], (
            f"GET /forecast/{city}?days={days}&units={units} answered {body} the second "
            f"time and {first[(city, days, units)]} the first: the second answer should "
            "come from the cache."
        )
    twice = {variant: n for variant, n in api.weather.calls.items() if n != 1}
    assert not twice, (
        f"Seven different forecasts, each asked for twice, called the weather service "
        f"{dict(api.weather.calls)} times; expected once each. Each one has a key of its "
        "own, and the second request for it is a hit."
    )


async def test_a_cached_forecast_expires_after_its_ttl(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_api, "FORECAST_TTL", 90)  # someone changed the setting
    url = "/forecast/Tromsø?days=2&units=metric"
    check_forecast(await api.get(url), "Tromsø", 2, "metric")
    check_expiry(await api.ttls(), 90, f"GET {url} with FORECAST_TTL set to 90")
    for key in await api.cache.keys("*"):
        await api.cache.pexpire(key, 30_000)  # as if 60 of the 90 seconds were over
    check_forecast(await api.get(url), "Tromsø", 2, "metric")  # a hit
    renewed = {key: left for key, left in (await api.ttls()).items() if left > 30_000}
    assert not renewed, (
        f"A cached forecast had 30 s left; a hit (GET {url}) set its TTL back to "
        f"{max(renewed.values()) / 1000:g} s. Renewing the TTL on every read means a popular "
        "forecast never expires and is never fetched fresh: set the TTL once, when you "
        "cache the answer, and only read on a hit."
    )
    await api.expire_everything()  # as if the 90 seconds were over
    after = check_forecast(await api.get(url), "Tromsø", 2, "metric")
    calls = api.weather.calls[("Tromsø", 2, "metric")]
    assert calls == 2 and after["report"] == 2, (
        f"Once its key was gone from Redis (as when its TTL runs out), GET {url} "
        f"answered report {after.get('report')} without asking the weather service "
        f"again (called {calls} times in all). Is there a second cache besides Redis, "
        "a dict in the process? Redis is the cache: the app's workers share it, and its "
        "TTL is what keeps an answer fresh."
    )
    check_expiry(await api.ttls(), 90, f"GET {url} again, once the first key expired")
    again = check_forecast(await api.get(url), "Tromsø", 2, "metric")
    assert api.weather.calls[("Tromsø", 2, "metric")] == 2 and again == after, (
        f"The forecast fetched after the expiry was not cached again: GET {url} called "
        f"the service {api.weather.calls[('Tromsø', 2, 'metric')]} times in all."
    )


async def test_a_failed_call_is_not_cached(api: Api) -> None:
    url = "/forecast/Oslo?days=3&units=metric"
    api.weather.outages["Oslo"] = 1
    failed = await api.get(url)
    assert failed.status_code == 503, (
        f"The weather service raised WeatherUnavailable, and GET {url} answered "
        f"{failed.status_code}: {failed.text[:200]}. Expected 503 Service Unavailable: "
        "catch WeatherUnavailable and raise HTTPException(503, ...)."
    )
    retried = await api.get(url)
    calls = api.weather.calls[("Oslo", 3, "metric")]
    assert calls == 2, (
        f"The first GET {url} failed (503), and the second did not call the weather "
        f"service again (called {calls} time(s) in all): the failure was cached. Cache "
        "only a good answer; a failure must be retried by the next request."
    )
    fresh = check_forecast(retried, "Oslo", 3, "metric")
    assert fresh == expected_forecast("Oslo", 3, "metric", 1), (
        f"After a failure, the service answered {expected_forecast('Oslo', 3, 'metric', 1)} "
        f"but GET {url} answered {fresh}."
    )
    hit = check_forecast(await api.get(url), "Oslo", 3, "metric")
    assert api.weather.calls[("Oslo", 3, "metric")] == 2 and hit == fresh, (
        f"The good answer that came after a failure was not cached: a third GET {url} "
        "called the weather service again."
    )


async def test_forecasts_for_different_keys_are_fetched_at_the_same_time(
    api: Api, looptime
) -> None:
    asked = [
        ("Oslo", 3, "metric"),
        ("Bergen", 3, "metric"),
        ("Oslo", 4, "metric"),
        ("Oslo", 3, "imperial"),
        ("Tromsø", 7, "imperial"),
        ("Oslo", 3, "metric"),  # the same as the first, at the same moment
    ]
    start = float(looptime)
    async with api.deadline(120, "six forecasts at once"):
        responses = await asyncio.gather(
            *(api.get(f"/forecast/{city}?days={d}&units={u}") for city, d, u in asked)
        )
    for (city, days, units), response in zip(asked, responses, strict=True):
        body = check_forecast(response, city, days, units)
        assert body.get("highs") == expected_forecast(city, days, units, 0)["highs"], (
            f"GET /forecast/{city}?days={days}&units={units} answered {body}."
        )
    took = since(start, looptime)
    assert took == SERVICE_SECONDS, (
        f"Six forecast requests at once, five different ones, took {took:g} s; each "
        f"service call takes {SERVICE_SECONDS:g} s, so together they take "
        f"{SERVICE_SECONDS:g}. Is one lock held around every request? Requests for "
        "different keys must not wait for each other (a lock, if any, is per key)."
    )


async def test_forecasts_and_articles_never_share_a_key(api: Api) -> None:
    before = set(await api.cache.keys("*"))
    check_json(await api.get("/articles/hello"), "GET /articles/hello")
    spelled = [key for key in set(await api.cache.keys("*")) - before if "hello" in key]
    if len(spelled) != 1 or spelled[0].count("hello") != 1:
        return  # the article's key does not spell its slug: no city can spell it either
    prefix, suffix = spelled[0].split("hello")
    for city in ("Oslo", f"{prefix}Oslo"):
        before = set(await api.cache.keys("*"))
        check_forecast(await api.get(f"/forecast/{city}"), city, 3, "metric")
        for key in set(await api.cache.keys("*")) - before:
            if not (key.startswith(prefix) and key.endswith(suffix)):
                continue
            slug = key[len(prefix) : len(key) - len(suffix)]
            if not slug or "/" in slug:
                continue
            url = f"/articles/{quote(slug, safe='')}"
            response = await api.get(url)
            assert response.status_code == 404, (
                f"GET /forecast/{city} cached its forecast under {key!r}, the very key "
                f"GET /articles/{slug} reads, which then answered {response.status_code} "
                f"with {response.text[:120]!r}: a forecast served as an article. Give each "
                "kind of data a prefix of its own (forecast:..., article:...), so that no "
                "city or slug can spell another kind's key."
            )


# ----------------------------------------------------------------------------- articles


def test_etag_of_is_a_quoted_hash_of_the_bytes() -> None:
    samples = [b"", b" ", b"{}", b'{"a":1}', b'{"a":2}', b'{"b":1}', "é".encode(), b"x" * 5000]
    tags = [etag_of(sample) for sample in samples]
    for sample, tag in zip(samples, tags, strict=True):
        assert isinstance(tag, str) and re.fullmatch(r'"[!#-~]+"', tag), (
            f"etag_of({sample[:20]!r}) gave back {tag!r}; an ETag is a string in double "
            'quotes, like "3f2a9c...": the hash of the bytes as hex, between quotes '
            "(no W/ in front: that marks a weak ETag, and these are exact)."
        )
        assert etag_of(bytes(sample)) == tag, (
            f"etag_of({sample[:20]!r}) gave back two different ETags for the same bytes."
        )
    real_hash = builtins.hash

    def hash_of_another_process(value: object) -> int:
        return real_hash(("another process, another PYTHONHASHSEED", value))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(builtins, "hash", hash_of_another_process)
        elsewhere = [etag_of(sample) for sample in samples]
    assert elsewhere == tags, (
        "etag_of gave other ETags once Python's hash() changed, as it does in every new "
        "process (it is salted at random at start-up). The next worker, or the server after "
        "a restart, would answer 200 to every If-None-Match. Hash with hashlib instead."
    )
    same = [(a, b) for i, a in enumerate(samples) for b in samples[i + 1 :]]
    clash = [(a, b) for a, b in same if etag_of(a) == etag_of(b)]
    assert not clash, (
        f"etag_of gave the same ETag to {clash[0][0][:20]!r} and {clash[0][1][:20]!r}. "
        "Different bodies need different ETags: hash the bytes (hashlib.sha256(body))."
    )


async def test_an_article_is_loaded_once_then_served_from_redis(
    api: Api, looptime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_api, "ARTICLE_TTL", 120)  # someone changed the setting
    for article in ARTICLES:
        url = f"/articles/{article['slug']}"
        start = float(looptime)
        first = await api.get(url)
        assert check_json(first, f"GET {url}") == article, (
            f"GET {url} answered {first.text[:200]}; expected the article as the store "
            f"loads it: {article}."
        )
        assert since(start, looptime) == LOAD_SECONDS, (
            f"The first GET {url} took {since(start, looptime):g} s; loading the "
            f"article takes {LOAD_SECONDS:g} s, and nothing else should take time."
        )
        middle = float(looptime)
        second = await api.get(url)
        check_json(second, f"The second GET {url}")
        loads = api.articles.loads[article["slug"]]
        assert loads == 1, (
            f"GET {url} twice loaded the article {loads} times; the second answer must "
            "come from Redis, without asking the store."
        )
        assert second.content == first.content, (
            f"GET {url} answered {first.content[:120]!r} the first time and "
            f"{second.content[:120]!r} from the cache: send the very text you cached, "
            "so the body (and its ETag) is the same however it was served."
        )
        assert since(middle, looptime) == 0, (
            f"The second GET {url}, served from the cache, took "
            f"{since(middle, looptime):g} s of event-loop time."
        )
    check_expiry(await api.ttls(), 120, "two articles were read, with ARTICLE_TTL set to 120")


async def test_an_article_has_an_etag_of_its_body_and_a_max_age(api: Api) -> None:
    for article in ARTICLES:
        url = f"/articles/{article['slug']}"
        for attempt in ("first", "second (from the cache)"):
            response = await api.get(url)
            check_json(response, f"GET {url}")
            etag = response.headers.get("etag")
            assert etag, (
                f"The {attempt} GET {url} answered without an ETag header. Send "
                "`ETag: etag_of(body)` with the article."
            )
            assert etag == etag_of(response.content), (
                f"The {attempt} GET {url} answered ETag {etag}, but etag_of(the body it "
                f"sent) is {etag_of(response.content)}. Compute the ETag from the exact "
                "bytes you send (the JSON text you cached), not from something else."
            )
            age = max_age(response)
            assert age == cache_api.ARTICLE_MAX_AGE, (
                f"The {attempt} GET {url} answered Cache-Control: "
                f"{response.headers.get('cache-control')!r}; expected "
                f"max-age={cache_api.ARTICLE_MAX_AGE} (ARTICLE_MAX_AGE): how long a "
                "client may reuse the article without asking."
            )


async def test_if_none_match_with_the_current_etag_is_a_304_without_a_body(api: Api) -> None:
    url = "/articles/hello"
    first = await api.get(url)
    check_json(first, f"GET {url}")
    etag = first.headers.get("etag", "")
    assert etag, f"GET {url} answered without an ETag header."
    unchanged = await api.get(url, if_none_match=etag)
    assert unchanged.status_code == 304, (
        f"GET {url} with If-None-Match: {etag} (its current ETag) answered "
        f"{unchanged.status_code}; expected 304 Not Modified: the client already has "
        "this version."
    )
    assert unchanged.content == b"", (
        f"The 304 for GET {url} carried a body ({unchanged.content[:80]!r}...). A 304 has "
        "none: that is the bandwidth it saves. Return Response(status_code=304, "
        "headers=...)."
    )
    assert unchanged.headers.get("etag") == etag and max_age(unchanged) == max_age(first), (
        f"The 304 for GET {url} answered ETag {unchanged.headers.get('etag')!r} and "
        f"Cache-Control {unchanged.headers.get('cache-control')!r}; a 304 carries the "
        f"same ETag and Cache-Control as the 200 would ({etag}, "
        f"{first.headers.get('cache-control')!r}), so the client can keep its copy longer."
    )
    assert api.articles.loads["hello"] == 1, (
        f"The 304 for GET {url} loaded the article from the store again; it was in Redis."
    )
    other = await api.get(url, if_none_match='"an-old-version"')
    assert other.status_code == 200 and other.content == first.content, (
        f'GET {url} with If-None-Match: "an-old-version" answered {other.status_code} '
        f"{other.content[:80]!r}; expected 200 with the article. Answer 304 only when "
        "If-None-Match is the article's current ETag."
    )
    await api.expire_everything()  # the cached copy expired: the article is loaded again
    reloaded = await api.get(url, if_none_match=etag)
    assert reloaded.status_code == 304 and reloaded.content == b"", (
        f"Once the cached copy had expired, GET {url} with If-None-Match: {etag} (still "
        f"its ETag: the article did not change) answered {reloaded.status_code}. Check "
        "If-None-Match after a miss too, not only after a hit."
    )
    assert api.articles.loads["hello"] == 2, (
        f"After its key expired, the article was loaded {api.articles.loads['hello']} "
        "times in all; expected 2. Is there a cache besides Redis?"
    )


async def test_a_missing_article_is_a_404_that_is_not_cached(api: Api) -> None:
    url = "/articles/coming-soon"
    for attempt in (1, 2):
        response = await api.get(url)
        assert response.status_code == 404, (
            f"GET {url} (attempt {attempt}), an article the store does not have, answered "
            f"{response.status_code}: {response.text[:200]}. Expected 404."
        )
    assert api.articles.loads["coming-soon"] == 2, (
        f"GET {url} twice, for an article that does not exist, asked the store "
        f"{api.articles.loads['coming-soon']} time(s). Cache only articles, never the "
        "answer that there is none: it may be written a moment later."
    )
    body = {"title": "Coming soon", "text": "Now here."}
    saved = await api.put(url, body)
    assert saved.status_code == 200, f"PUT {url} answered {saved.status_code}: {saved.text}"
    created = await api.get(url)
    assert check_json(created, f"GET {url} after PUT") == {"slug": "coming-soon", **body}, (
        f"GET {url}, after PUT {url} created it, answered {created.text[:200]}."
    )


async def test_a_write_drops_the_cached_article_and_only_that(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_api, "ARTICLE_TTL", 120)
    url = "/articles/hello"
    old = await api.get(url)
    check_json(old, f"GET {url}")
    old_etag = old.headers.get("etag", "")
    check_json(await api.get("/articles/café"), "GET /articles/café")
    check_forecast(await api.get("/forecast/Oslo"), "Oslo", 3, "metric")
    body = {"title": "Hello again", "text": "An edited post."}
    saved = await api.put(url, body)
    new_article = {"slug": "hello", **body}
    assert check_json(saved, f"PUT {url}") == new_article, (
        f"PUT {url} answered {saved.text[:200]}; expected the saved article, {new_article}."
    )
    assert api.articles.saves == [new_article], (
        f"PUT {url} saved {api.articles.saves}; expected [{new_article}]."
    )
    new = await api.get(url)
    assert check_json(new, f"GET {url} after PUT") == new_article, (
        f"After PUT {url}, GET {url} answered the old article: {new.text[:200]}. A write "
        "must drop the cached copy (`await redis.delete(key)`, the same key the read "
        "uses), or overwrite it with the new article."
    )
    new_etag = new.headers.get("etag", "")
    assert new_etag and new_etag != old_etag and new_etag == etag_of(new.content), (
        f"The article changed and its ETag went from {old_etag} to {new_etag!r}; a new "
        "body gets a new ETag, etag_of(the new body)."
    )
    stale = await api.get(url, if_none_match=old_etag)
    assert stale.status_code == 200 and stale.content == new.content, (
        f"GET {url} with If-None-Match: the ETag of the old version answered "
        f"{stale.status_code}; expected 200 with the new article."
    )
    fresh = await api.get(url, if_none_match=new_etag)
    assert fresh.status_code == 304, (
        f"GET {url} with If-None-Match: the new ETag answered {fresh.status_code}; expected 304."
    )
    cafe_loads = api.articles.loads["café"]
    check_json(await api.get("/articles/café"), "GET /articles/café")
    check_forecast(await api.get("/forecast/Oslo"), "Oslo", 3, "metric")
    kept = api.articles.loads["café"] == cafe_loads and api.weather.calls.total() == 1
    assert kept, (
        f"PUT {url} also dropped the cached café article or the cached forecast: they had "
        "to be fetched again. A write drops only its own key; never FLUSHDB, the whole "
        "database is shared."
    )
    check_expiry(await api.ttls(), 120, f"PUT {url} and a GET, with ARTICLE_TTL set to 120")
    await api.expire_everything()
    reloaded = await api.get(url)
    assert reloaded.content == new.content and reloaded.headers.get("etag") == new_etag, (
        f"After the write, the cached copy of {url} gave body {new.content[:80]!r} and "
        f"ETag {new_etag}; once it expired, the article loaded from the store gave "
        f"{reloaded.content[:80]!r} and {reloaded.headers.get('etag')}. The same article "
        "must give the same body and ETag however it got into the cache: write it with "
        "the same json.dumps the read uses, or just delete the key."
    )


async def test_a_read_during_a_write_leaves_no_stale_copy(api: Api) -> None:
    url = "/articles/hello"
    check_json(await api.get(url), f"GET {url}")  # cached
    body = {"title": "Hello, edited", "text": "Saved while someone was reading."}
    put = asyncio.create_task(api.put(url, body))
    await asyncio.sleep(1)  # the save takes 2 s: it is under way
    during = await api.get(url)  # the old article or the new one: either is fine now
    check_json(during, f"GET {url} while a PUT was saving it")
    assert not put.done(), f"PUT {url} was over before its save was ({SAVE_SECONDS:g} s)."
    saved = await put
    check_json(saved, f"PUT {url}")
    after = await api.get(url)
    assert check_json(after, f"GET {url} after the PUT") == {"slug": "hello", **body}, (
        f"A GET {url} ran while PUT {url} was saving, and after the PUT, GET {url} still "
        f"answered the old article: {after.text[:200]}. The cached copy was dropped "
        "before the save was done, the reader in between cached the old article again, "
        "and nothing dropped it after. Save first, then delete the key."
    )
