"""Kata 15 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import sysconfig
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from items_api import Item, create_app

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

# Real time, not virtual: a plain `def` endpoint runs in a worker thread, which virtual
# time can't wait for. A request takes milliseconds; one still running after
# REQUEST_SECONDS is stuck.
pytestmark = pytest.mark.looptime(False)
REQUEST_SECONDS = 2

_LIBRARIES = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")})


def your_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback of an error raised in the app, without the frames inside httpx,
    Starlette and FastAPI (dozens of them): the report shows the tests and your code."""
    kept = []
    tb = tb.tb_next if tb is not None else None  # this frame is added again by `raise`
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_LIBRARIES):
            kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for entry in reversed(kept):
        trimmed = TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


# The errors a wrong endpoint raises for a request the tests expect it to refuse; each
# becomes a failure that says what to do instead (any other error is raised as it is).
MISSING = (
    LookupError,  # KeyError, IndexError
    "asks for an item that does not exist, and your endpoint raised {error!r}. A real "
    "server turns that into 500 Internal Server Error. Check whether the id is in the "
    "catalogue, and raise HTTPException(status_code=404, detail=...) if it is not.",
)
NOT_A_NUMBER = (
    ValueError,  # int("abc")
    "has an item_id that is not a whole number, and your endpoint raised {error!r} (a "
    "500 for the client). Type the path parameter as int: then FastAPI checks it, and "
    "answers 422 before your code runs.",
)


class Api:
    """Sends GET requests to one app, in-process, each under a deadline."""

    def __init__(self, client: httpx.AsyncClient, deadline: Deadline) -> None:
        self._client = client
        self._deadline = deadline

    async def get(
        self, path: str, params: dict[str, Any] | None = None, *, crash: tuple = ()
    ) -> tuple[httpx.Response, str]:
        """GET path?params; return the response and the URL as the messages show it."""
        url = f"{path}?{urlencode(params)}" if params else path
        error = None
        async with self._deadline(REQUEST_SECONDS, f"GET {url}"):
            try:
                return await self._client.get(url), f"GET {url}"
            except Exception as exc:  # the app's own error: raised again as it is, or explained
                if not (crash and isinstance(exc, crash[0])):
                    raise exc.with_traceback(your_frames(exc.__traceback__)) from None
                error = exc
        pytest.fail(f"GET {url} {crash[1].format(error=error)}")

    async def page(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET /items with valid parameters; return the body after checking the basics."""
        response, what = await self.get("/items", params)
        if response.status_code == 422:
            pytest.fail(
                f"{what} answered 422: {response.text[:300]}. "
                + advice_for_valid(body_of(response), params or {})
            )
        assert response.status_code == 200, (
            f"{what} answered {response.status_code}: {response.text[:300]}; expected 200."
            + (
                " Skipping past the end is not an error: answer 200 with no items (and the total)."
                if response.status_code == 404
                else ""
            )
        )
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"total", "items"}, (
            f"{what} gave {response.text[:300]}; expected a Page: "
            '{"total": <how many matched>, "items": [<the items on this page>]}.'
        )
        return body


def advice_for_valid(body: Any, params: dict[str, Any]) -> str:
    """Why a request with valid parameters may have been refused."""
    places = [error.get("loc") for error in detail_list(body)]
    for name in ("category", "skip", "limit"):
        if ["query", name] in places and name not in params:
            if name == "category":
                return (
                    "The request has no category, and category is optional: declare it with "
                    "a default of None (`category: str | None = None`)."
                )
            return f"The request has no {name}, so its default must be used: give {name} one."
    return (
        "These parameters keep the rules (skip: 0 or more; limit: 1 to 100, both ends "
        "allowed): check the bounds you declared (ge, le)."
    )


@asynccontextmanager
async def connect(app: Any, deadline: Deadline) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, deadline)


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def detail_list(body: Any) -> list[dict[str, Any]]:
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return [error for error in detail if isinstance(error, dict)]
    return []


def make_catalogue() -> list[Item]:
    """250 items, ids 1 to 259 with a gap every 26 (26, 52, ...), in a shuffled order.

    Categories: about 150 books, 50 games, 25 tools and 25 music.
    """
    items = []
    for item_id in range(1, 260):
        if item_id % 26 == 0:
            continue
        kind = item_id % 5
        if kind <= 2:
            category = "books"
        elif kind == 3:
            category = "games"
        else:
            category = "tools" if item_id % 10 == 4 else "music"
        price = round(1 + (item_id * 13 % 97) * 0.5, 2)
        items.append(Item(id=item_id, name=f"item {item_id}", category=category, price=price))
    assert len(items) == 250
    return sorted(items, key=lambda item: (item.id * 37) % 263)  # not in id order


def dumped(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [item.model_dump() for item in items]


def ids(items: Any) -> Any:
    if isinstance(items, list) and all(isinstance(item, dict) for item in items):
        return [item.get("id") for item in items]
    return items


def check_page(
    body: dict[str, Any], expected: list[Item], total: int, what: str, rule: str
) -> None:
    got, want = ids(body["items"]), [item.id for item in expected]
    numbers = isinstance(got, list) and all(isinstance(n, int) for n in got)
    if numbers and got != sorted(got):
        pytest.fail(
            f"{what} gave the items with ids {few(got)}: not sorted by id. The items must "
            "be sorted by id, smallest first, whatever order create_app got them in."
        )
    assert got == want, f"{what} gave the items with ids {few(got)}; expected {few(want)}" + (
        f": {rule}." if rule else "."
    )
    assert body["items"] == dumped(expected), (
        f"{what} gave the right ids, but not the items as they are: {body['items'][:2]}..."
    )
    assert body["total"] == total, (
        f"{what} gave total={body['total']!r}; expected {total}: total counts every item "
        "that matched (after the filter, before skip and limit), on every page."
    )


def few(numbers: Any) -> str:
    """A list of ids, cut short when long: [1, 2, 3, ..., 99, 100] (100 ids)."""
    if not isinstance(numbers, list) or len(numbers) <= 12:
        return repr(numbers)
    head, tail = ", ".join(map(str, numbers[:6])), ", ".join(map(str, numbers[-3:]))
    return f"[{head}, ..., {tail}] ({len(numbers)} ids)"


def check_422(response: httpx.Response, what: str, where: list[str], rule: str) -> None:
    status = response.status_code
    if status == 200:
        shown = body_of(response)
        if isinstance(shown, dict) and isinstance(shown.get("items"), list):
            shown = f"{len(shown['items'])} items"
        pytest.fail(
            f"{what} answered 200 ({shown}), but it breaks the rule {rule}. Put the rule in "
            "the parameter's declaration (Query(ge=..., le=...) or Path(...)): then FastAPI "
            "answers 422 before your code runs."
            + (
                " Cutting the value down yourself (min(limit, 100)) hides the client's "
                "mistake: refuse it instead."
                if shown == "100 items"
                else ""
            )
        )
    assert status == 422, (
        f"{what} answered {status}: {response.text[:200]}; expected 422, because it breaks "
        f"the rule {rule}. Declare the rule (type and bounds) on the parameter, and FastAPI "
        "checks it."
    )
    places = [error.get("loc") for error in detail_list(body_of(response))]
    assert where in places, (
        f"{what} answered 422 with {response.text[:200]}; FastAPI's error list should point "
        f"at {where}."
    )


async def test_list_items_gives_the_first_10_by_id_by_default(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    by_id = sorted(catalogue, key=lambda item: item.id)
    async with connect(create_app(catalogue), deadline) as api:
        body = await api.page()
    check_page(
        body, by_id[:10], 250, "GET /items (no parameters)", "by default skip is 0 and limit 10"
    )


async def test_list_items_skip_and_limit_pick_a_window(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    by_id = sorted(catalogue, key=lambda item: item.id)
    windows: list[dict[str, Any]] = [
        {"skip": 10, "limit": 10},
        {"skip": 0, "limit": 1},
        {"skip": 3, "limit": 7},
        {"limit": 25},
        {"skip": 20},
        {"skip": 0, "limit": 100},
        {"skip": 120, "limit": 100},
        {"skip": 240, "limit": 10},
        {"skip": 245, "limit": 10},
        {"skip": 249, "limit": 100},
        {"skip": 250, "limit": 5},
        {"skip": 1000},
    ]
    async with connect(create_app(catalogue), deadline) as api:
        for params in windows:
            body = await api.page(params)
            skip, limit = params.get("skip", 0), params.get("limit", 10)
            rule = (
                f"skip {skip} items, then give the next {limit} (or fewer at the end): "
                "items[skip : skip + limit]"
                + (
                    "; skip and limit each keep their default when left out"
                    if len(params) < 2
                    else ""
                )
            )
            what = "GET /items?" + urlencode(params)
            check_page(body, by_id[skip : skip + limit], 250, what, rule)


async def test_list_items_pages_cover_every_item_exactly_once(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    all_ids = sorted(item.id for item in catalogue)
    games = sorted(item.id for item in catalogue if item.category == "games")
    async with connect(create_app(catalogue), deadline) as api:
        seen: list[int] = []
        for skip in range(0, 300, 100):
            body = await api.page({"skip": skip, "limit": 100})
            seen.extend(ids(body["items"]))
        assert seen == all_ids, (
            "Pages of 100 (skip=0, 100, 200) should together give each of the 250 items "
            f"exactly once, in id order. They gave {len(seen)} items"
            + (
                f", {len(seen) - len(set(seen))} of them twice"
                if len(set(seen)) < len(seen)
                else ""
            )
            + ". A page is items[skip : skip + limit]."
        )
        seen = []
        for skip in range(0, 56, 7):
            body = await api.page({"category": "games", "skip": skip, "limit": 7})
            seen.extend(ids(body["items"]))
        assert seen == games, (
            f"Pages of 7 games (skip=0, 7, 14, ..., 49) should together give all "
            f"{len(games)} games exactly once, in id order; they gave {len(seen)} items. "
            "Filter first, then skip, then limit."
        )


async def test_limit_must_be_from_1_to_100(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    by_id = sorted(catalogue, key=lambda item: item.id)
    async with connect(create_app(catalogue), deadline) as api:
        body = await api.page({"limit": 100})
        check_page(body, by_id[:100], 250, "GET /items?limit=100", "100 is allowed (le=100)")
        body = await api.page({"limit": 1})
        check_page(body, by_id[:1], 250, "GET /items?limit=1", "1 is allowed (ge=1)")
        for value in [101, 1000, 0, -1, "ten", 2.5]:
            response, what = await api.get("/items", {"limit": value})
            check_422(response, what, ["query", "limit"], "limit: a whole number from 1 to 100")


async def test_skip_must_be_0_or_more(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    by_id = sorted(catalogue, key=lambda item: item.id)
    async with connect(create_app(catalogue), deadline) as api:
        body = await api.page({"skip": 0})
        check_page(body, by_id[:10], 250, "GET /items?skip=0", "0 is allowed (ge=0)")
        for value in [-1, -100, "abc", 1.5]:
            response, what = await api.get("/items", {"skip": value})
            check_422(response, what, ["query", "skip"], "skip: a whole number, 0 or more")
        response, what = await api.get("/items", {"skip": -1, "limit": 1000})
        check_422(response, what, ["query", "skip"], "skip: a whole number, 0 or more")
        check_422(response, what, ["query", "limit"], "limit: a whole number from 1 to 100")


async def test_category_filters_before_skip_and_limit(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    by_id = sorted(catalogue, key=lambda item: item.id)

    def of(category: str) -> list[Item]:
        return [item for item in by_id if item.category == category]

    rule = "only the items of that category; filter first, then skip, then limit"
    async with connect(create_app(catalogue), deadline) as api:
        for params, category in [
            ({"category": "games"}, "games"),
            ({"category": "music", "limit": 100}, "music"),
            ({"category": "books", "skip": 5, "limit": 5}, "books"),
            ({"category": "tools", "skip": 20, "limit": 10}, "tools"),
            ({"category": "books", "skip": 100, "limit": 100}, "books"),
        ]:
            body = await api.page(params)
            skip, limit = params.get("skip", 0), params.get("limit", 10)
            expected = of(category)
            what = "GET /items?" + urlencode(params)
            check_page(body, expected[skip : skip + limit], len(expected), what, rule)
        for category in ["nothing", "Books", "book", ""]:
            body = await api.page({"category": category})
            what = "GET /items?" + urlencode({"category": category})
            check_page(body, [], 0, what, f"no item's category is exactly {category!r}")


async def test_list_items_leaves_the_catalogue_as_it_was(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    given = dumped(catalogue)  # what the caller handed over, in its order
    by_id = sorted(catalogue, key=lambda item: item.id)
    app = create_app(catalogue)
    assert dumped(catalogue) == given, (
        "create_app changed the list of items it was given (its order, or the items). The "
        "caller still uses that list: sort into a new one with sorted(...)."
    )
    async with connect(app, deadline) as api:
        first = await api.page({"skip": 30, "limit": 20})
        for params in [{"skip": 5}, {"skip": 200, "limit": 100}, {"category": "games"}]:
            await api.page(params)
        again = await api.page({"skip": 30, "limit": 20})
        assert again == first, (
            "GET /items?skip=30&limit=20 gave other items the second time, after a few "
            f"other pages: ids {ids(first['items'])} then {ids(again['items'])}. Reading a "
            "page must not change the catalogue: a slice is a copy, but del, pop and an "
            "in-place sort change the list."
        )
        check_page(first, by_id[30:50], 250, "GET /items?skip=30&limit=20", "items[30:50]")
        check_page(await api.page(), by_id[:10], 250, "GET /items, after other pages", "")
    assert dumped(catalogue) == given, (
        "After a few requests, the list of items given to create_app has changed. The "
        "caller still uses that list: keep your own sorted copy and never change it."
    )


async def test_get_item_gives_the_item_with_that_id(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    by_id = {item.id: item for item in catalogue}
    async with connect(create_app(catalogue), deadline) as api:
        for item_id in [1, 2, 25, 27, 100, 131, 259]:  # 27 comes right after the gap at 26
            response, what = await api.get(f"/items/{item_id}")
            assert response.status_code == 200, (
                f"{what} answered {response.status_code}: {response.text[:200]}; item "
                f"{item_id} exists, so expected 200 and the item."
            )
            assert response.json() == by_id[item_id].model_dump(), (
                f"{what} gave {response.text[:200]}; expected the item whose id is {item_id}: "
                f"{by_id[item_id].model_dump()}. Look it up by its id, not by its position "
                "(ids have gaps: there is no item 26)."
            )


async def test_a_missing_item_is_404_with_a_clear_detail(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    async with connect(create_app(catalogue), deadline) as api:
        response, what = await api.get("/items/1")
        assert response.status_code == 200, f"{what} answered {response.status_code}."
        for item_id in [26, 260, 261, 9999]:  # 26 is a gap among the ids; 260 is past them
            response, what = await api.get(f"/items/{item_id}", crash=MISSING)
            assert response.status_code == 404, (
                f"{what} asks for an item that does not exist, and answered "
                f"{response.status_code}: {response.text[:200]}. Answer 404: raise "
                "HTTPException(status_code=404, detail=...)"
                + (", not a 200 with null." if response.status_code == 200 else ".")
            )
            expected = {"detail": f"Item {item_id} not found"}
            assert body_of(response) == expected, (
                f"{what} answered 404 with {response.text[:200]}; the body should be exactly "
                f"{expected}, so the client sees which item is missing."
            )


async def test_item_id_must_be_a_whole_number_of_at_least_1(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    async with connect(create_app(catalogue), deadline) as api:
        response, what = await api.get("/items/3")
        assert response.status_code == 200, f"{what} answered {response.status_code}."
        for item_id in ["abc", "1.5", "0", "-3", "three"]:
            response, what = await api.get(f"/items/{item_id}", crash=NOT_A_NUMBER)
            if response.status_code == 404 and item_id in ("abc", "1.5", "three"):
                pytest.fail(
                    f"{what} answered 404, as if it were an id nobody has. {item_id!r} is not "
                    "a whole number at all: type item_id as int, and FastAPI answers 422 for "
                    "it before your code runs."
                )
            check_422(response, what, ["path", "item_id"], "item_id: a whole number, at least 1")


async def test_each_app_serves_its_own_items(deadline: Deadline) -> None:
    catalogue = make_catalogue()
    small = (  # a tuple works too, and its order is not the id order either
        Item(id=7, name="Lamp", category="home", price=30.0),
        Item(id=3, name="Desk", category="home", price=120.0),
        Item(id=300, name="Chair", category="office", price=45.5),
    )
    big_app = create_app(catalogue)
    small_app = create_app(small)
    async with connect(big_app, deadline) as big, connect(small_app, deadline) as little:
        body = await little.page()
        check_page(
            body, sorted(small, key=lambda i: i.id), 3, "GET /items on an app with 3 items", ""
        )
        response, what = await little.get("/items/5", crash=MISSING)
        assert response.status_code == 404, (
            f"{what}, on an app whose items are 3, 7 and 300, answered "
            f"{response.status_code}: {response.text[:200]}. Item 5 belongs to another app: "
            "each app serves only the items it was given (keep them inside create_app)."
        )
        response, what = await little.get("/items/300")
        assert response.status_code == 200 and response.json() == small[2].model_dump(), (
            f"{what} answered {response.status_code}: {response.text[:200]}; expected "
            f"{small[2].model_dump()}."
        )
        body = await big.page({"skip": 245})
        check_page(
            body,
            sorted(catalogue, key=lambda i: i.id)[245:],
            250,
            "GET /items?skip=245 on the first app, after a second app was built",
            "each app keeps its own items",
        )
