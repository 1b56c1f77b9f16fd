"""Kata 18 tests: they are the spec. Read them, but don't edit them."""

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
import pytest
from orders_api import Order, OrderNotFound, OutOfStock, ShopError, create_app

TOKEN = "kata-18-token-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# What the broken parts of the fake shop say. A client must never see any of it.
SECRETS = ("hunter2", "orders-db.internal", "cache-3.internal", "Traceback", 'File "')


@pytest.fixture(autouse=True)
def _threads_in_loop_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """FastAPI runs a plain-def dependency or handler in a worker thread through anyio.

    Virtual time only knows to wait for threads started with loop.run_in_executor, so
    anyio's thread calls are routed there: a sync `def` is as welcome as an `async def`.
    """

    async def run_sync(func: Any, *args: Any, **_options: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(func, *args))

    monkeypatch.setattr(anyio.to_thread, "run_sync", run_sync)
    yield


class PaymentDeclined(ShopError):
    """A domain error the API has never heard of: the base class's handler must serve it."""

    code = "payment_declined"


class FakeShop:
    """A shop for the tests. Its errors are raised a few calls deep, like a real service's.

    `place_order("gift-card", n)` raises PaymentDeclined; `place_order("explode", n)` and
    `get_order(666)` fail with an unexpected error that holds secrets. It writes down
    every call it gets in `calls`.
    """

    def __init__(self, stock: dict[str, int], orders: tuple[Order, ...] = ()) -> None:
        self.stock = dict(stock)
        self.orders = {order.id: order for order in orders}
        self.next_id = 41
        self.calls: list[tuple[Any, ...]] = []
        self.unexpected: list[Exception] = []  # the unexpected errors it raised

    async def _database(self) -> None:
        for _ in range(3):  # a real shop waits for its database a few times
            await asyncio.sleep(0)

    async def _find(self, order_id: int) -> Order:
        await self._database()
        if order_id == 666:
            self.unexpected.append(LookupError("cache-3.internal:6379 says order 666 is corrupt"))
            raise self.unexpected[-1]
        if order_id not in self.orders:
            raise OrderNotFound(order_id)
        return self.orders[order_id]

    async def _reserve(self, sku: str, quantity: int) -> None:
        await self._database()
        if sku == "explode":
            self.unexpected.append(
                RuntimeError("connection to orders-db.internal:5432 refused (password=hunter2)")
            )
            raise self.unexpected[-1]
        if sku == "gift-card":
            raise PaymentDeclined("Gift cards can't be paid with a gift card.")
        available = self.stock.get(sku, 0)
        if quantity > available:
            raise OutOfStock(sku, quantity, available)
        self.stock[sku] = available - quantity

    async def place_order(self, sku: str, quantity: int) -> Order:
        self.calls.append(("place_order", sku, quantity))
        await self._reserve(sku, quantity)
        order = Order(id=self.next_id, sku=sku, quantity=quantity, status="placed")
        self.next_id += 1
        self.orders[order.id] = order
        return order

    async def get_order(self, order_id: int) -> Order:
        self.calls.append(("get_order", order_id))
        return await self._find(order_id)

    async def cancel_order(self, order_id: int) -> Order:
        self.calls.append(("cancel_order", order_id))
        order = await self._find(order_id)
        cancelled = order.model_copy(update={"status": "cancelled"})
        self.orders[order_id] = cancelled
        return cancelled


def an_order(order_id: int, sku: str = "apple", quantity: int = 1) -> Order:
    return Order(id=order_id, sku=sku, quantity=quantity, status="placed")


class Server:
    """Wraps the app like a server would: an exception that escapes it is noted (and logged)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.crashes: list[BaseException] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as error:
            self.crashes.append(error)
            raise


@asynccontextmanager
async def client_for(
    shop: FakeShop, deadline: Any, *, raise_app_exceptions: bool = True, server: Any = None
) -> AsyncIterator[Any]:
    """A client for a fresh app; `await send(method, url, ...)` makes one request."""
    app = create_app(shop, TOKEN)
    if server is not None:
        server.app = app
        app = server
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def send(method: str, url: str, **kwargs: Any) -> httpx.Response:
            escaped: ShopError | None = None
            try:
                async with deadline(60, f"{method} {url}"):
                    return await client.request(method, url, **kwargs)
            except ShopError as error:  # only a domain error the app did not handle
                escaped = error
            pytest.fail(
                f"{method} {url}: the shop raised {type(escaped).__name__}({str(escaped)!r}) "
                "and it reached the server unhandled: the client got a 500 and the server "
                "logged a crash. A domain error is not a bug: register a handler for "
                "ShopError (app.add_exception_handler) that turns it into its status code. "
                "A handler for Exception is not the place: that one is for the 500s."
            )

        yield send


def error_of(response: httpx.Response, what: str, fix: str) -> dict[str, Any]:
    """The inner dict of `{"error": {...}}`; fail in plain words if the body is not that."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        pytest.fail(
            f"{what} answered {status} with a body that is not JSON: {response.text[:120]!r}. "
            f"Every error must have the body {{'error': {{'code': ..., 'message': ...}}}}. {fix}"
        )
    if isinstance(body, dict) and "detail" in body and "error" not in body:
        pytest.fail(
            f"{what} answered {status} with the body {body!r}: the {{'detail': ...}} shape "
            "of FastAPI's default handlers. Every error must look alike, whoever raised it: "
            "{'error': {'code': ..., 'message': ...}}. " + fix
        )
    error = body.get("error") if isinstance(body, dict) else None
    assert (
        isinstance(body, dict)
        and set(body) == {"error"}
        and isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and error["message"]
    ), (
        f"{what} answered {status} with the body {body!r}. Every error must have exactly the "
        "body {'error': {'code': <a str>, 'message': <a str>}} (validation errors add "
        f"'details' inside 'error'): one shape for every handler. {fix}"
    )
    return error


def status_hint(status: int) -> str:
    if status == 500:
        return "A 500 means the error reached no handler that knew it. "
    if status == 200:
        return "A JSONResponse is a 200 unless you pass status_code=. "
    return ""


async def test_the_endpoints_serve_the_shop(deadline) -> None:
    shop = FakeShop({"usb-c-cable": 10}, orders=(an_order(7, "pear", 2),))
    async with client_for(shop, deadline) as send:
        placed = await send(
            "POST", "/orders", json={"sku": " USB-C-Cable", "quantity": 3}, headers=AUTH
        )
        assert placed.status_code == 201, (
            f"POST /orders with a good body and token answered {placed.status_code}: "
            f"{placed.text[:200]}. Placing an order answers 201 Created with the order."
        )
        assert shop.calls == [("place_order", "usb-c-cable", 3)], (
            f"POST /orders {{'sku': ' USB-C-Cable', 'quantity': 3}} called the shop like "
            f"this: {shop.calls}; expected place_order('usb-c-cable', 3), once (NewOrder "
            "cleans up the sku)."
        )
        assert placed.json() == {
            "id": 41,
            "sku": "usb-c-cable",
            "quantity": 3,
            "status": "placed",
        }, f"POST /orders answered {placed.json()!r}; expected the Order the shop returned."
        got = await send("GET", "/orders/7", headers=AUTH)
        assert got.status_code == 200 and got.json() == an_order(7, "pear", 2).model_dump(), (
            f"GET /orders/7 answered {got.status_code} {got.text[:200]}; expected 200 and "
            "order 7 as the shop has it (shop.get_order(7), in a dependency)."
        )
        cancelled = await send("POST", "/orders/7/cancel", headers=AUTH)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", (
            f"POST /orders/7/cancel answered {cancelled.status_code} {cancelled.text[:200]}; "
            "expected 200 and the cancelled order from shop.cancel_order(7)."
        )
        assert ("cancel_order", 7) in shop.calls, (
            f"POST /orders/7/cancel never called shop.cancel_order(7); the calls were {shop.calls}."
        )


async def test_out_of_stock_is_a_409_with_the_error_body(deadline) -> None:
    shop = FakeShop({"apple": 2})
    expected = {"code": "out_of_stock", "message": str(OutOfStock("apple", 5, 2))}
    async with client_for(shop, deadline) as send:
        response = await send("POST", "/orders", json={"sku": "apple", "quantity": 5}, headers=AUTH)
    assert response.status_code == 409, (
        f"The shop raised OutOfStock (only 2 apples left, 5 asked for), and POST /orders "
        f"answered {response.status_code}; expected 409 Conflict. "
        f"{status_hint(response.status_code)}Map the domain error to its status in an "
        "exception handler."
    )
    error = error_of(response, "POST /orders (out of stock)", "The ShopError handler builds it.")
    assert error == expected, (
        f"POST /orders (out of stock) answered the error {error!r}; expected {expected!r}: "
        "the code is exc.code, the message is str(exc)."
    )


async def test_a_missing_order_is_a_404_from_the_dependency_and_from_cancel(deadline) -> None:
    shop = FakeShop({}, orders=(an_order(1),))
    expected = {"code": "order_not_found", "message": str(OrderNotFound(404404))}
    async with client_for(shop, deadline) as send:
        responses = {
            "GET /orders/404404 (the order is loaded in a dependency)": await send(
                "GET", "/orders/404404", headers=AUTH
            ),
            "POST /orders/404404/cancel (the shop raises inside cancel_order)": await send(
                "POST", "/orders/404404/cancel", headers=AUTH
            ),
        }
    for what, response in responses.items():
        assert response.status_code == 404, (
            f"{what}: the shop raised OrderNotFound, and the app answered "
            f"{response.status_code}; expected 404. {status_hint(response.status_code)}"
            "One exception handler serves every endpoint and every dependency; a "
            "try/except in one endpoint does not help the others."
        )
        error = error_of(response, what, "The ShopError handler builds it.")
        assert error == expected, (
            f"{what} answered the error {error!r}; expected {expected!r}. OrderNotFound is "
            "the same error wherever it is raised: let it reach the ShopError handler "
            "(don't turn it into an HTTPException on the way)."
        )


async def test_any_other_shop_error_is_a_400_with_its_own_code(deadline) -> None:
    shop = FakeShop({})
    expected = {"code": "payment_declined", "message": "Gift cards can't be paid with a gift card."}
    async with client_for(shop, deadline) as send:
        response = await send(
            "POST", "/orders", json={"sku": "gift-card", "quantity": 1}, headers=AUTH
        )
    assert response.status_code == 400, (
        f"The shop raised PaymentDeclined, a ShopError the API has no special status for, "
        f"and POST /orders answered {response.status_code}; expected 400. "
        f"{status_hint(response.status_code)}Register the handler for the base class "
        "ShopError, so every domain error, today's and tomorrow's, has an answer."
    )
    error = error_of(
        response, "POST /orders (payment declined)", "The ShopError handler builds it."
    )
    assert error == expected, (
        f"POST /orders (payment declined) answered the error {error!r}; expected "
        f"{expected!r}: the code is exc.code, the message is str(exc)."
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}],
    ids=["no token", "wrong token", "token without Bearer"],
)
async def test_a_request_without_the_token_is_a_401_with_www_authenticate(
    headers: dict[str, str], deadline
) -> None:
    shop = FakeShop({"apple": 5}, orders=(an_order(1),))
    requests = [
        ("POST", "/orders", {"sku": "apple", "quantity": 1}),
        ("GET", "/orders/1", None),
        ("POST", "/orders/1/cancel", None),
    ]
    async with client_for(shop, deadline) as send:
        for method, url, body in requests:
            what = f"{method} {url} with the header {headers or 'missing'}"
            response = await send(method, url, json=body, headers=headers)
            assert response.status_code == 401, (
                f"{what} answered {response.status_code}; expected 401 Unauthorized. Every "
                f"route needs `Authorization: Bearer {TOKEN}` exactly: check it in a "
                "dependency that every route uses, and raise HTTPException(401, ...)."
            )
            challenge = response.headers.get("www-authenticate", "")
            assert challenge.lower().startswith("bearer"), (
                f"{what} answered 401 without the header `WWW-Authenticate: Bearer` (the "
                f"headers were {dict(response.headers)}). Raise HTTPException(401, ..., "
                "headers={'WWW-Authenticate': 'Bearer'}), and have your HTTPException handler "
                "pass exc.headers on to the response."
            )
            error = error_of(response, what, "The HTTPException handler builds it.")
            assert error["code"] == "unauthorized", (
                f"{what} answered the error {error!r}; the code of a 401 is 'unauthorized' "
                "(HTTPStatus(401).phrase in snake case)."
            )
    assert shop.calls == [], (
        f"Requests without a valid token reached the shop: {shop.calls}. Check the token "
        "before anything else happens."
    )


async def test_validation_errors_are_a_422_with_the_error_body(deadline) -> None:
    shop = FakeShop({"apple": 5})
    cases = [
        (
            "POST",
            "/orders",
            {"sku": "apple", "quantity": 0},
            {(("body", "quantity"), "greater_than_equal")},
        ),
        ("POST", "/orders", {"quantity": 2}, {(("body", "sku"), "missing")}),
        (
            "POST",
            "/orders",
            {"sku": "green apple", "quantity": 101},
            {(("body", "sku"), "value_error"), (("body", "quantity"), "less_than_equal")},
        ),
        ("GET", "/orders/abc", None, {(("path", "order_id"), "int_parsing")}),
    ]
    async with client_for(shop, deadline) as send:
        for method, url, body, problems in cases:
            what = f"{method} {url}" + (f" with the body {body}" if body is not None else "")
            try:
                response = await send(method, url, json=body, headers=AUTH)
            except TypeError as error:  # raised by the app: its handler could not encode
                pytest.fail(
                    f"{what}: your validation handler crashed with TypeError: {error}. "
                    "exc.errors() can hold an exception object in 'ctx' (here the sku "
                    "validator's ValueError), which JSON cannot encode. Copy 'loc', 'type' "
                    "and 'msg' from each error, or use jsonable_encoder."
                )
            assert response.status_code == 422, (
                f"{what} answered {response.status_code}; expected 422, the status of a "
                "request that does not fit the model. Keep it when you reshape the body."
            )
            error = error_of(response, what, "The RequestValidationError handler builds it.")
            assert error["code"] == "validation_error", (
                f"{what} answered the error {error!r}; expected the code 'validation_error'."
            )
            details = error.get("details")
            assert isinstance(details, list) and all(
                isinstance(d, dict) and {"loc", "type", "msg"} <= set(d) for d in details
            ), (
                f"{what} answered the error {error!r}. It needs 'details': a list with one "
                "dict per problem in exc.errors(), each with its 'loc', 'type' and 'msg'."
            )
            found = {(tuple(d["loc"]), d["type"]) for d in details}
            assert found == problems, (
                f"{what} listed the problems {sorted(found)} (loc, type); expected "
                f"{sorted(problems)}. List every problem in exc.errors(), one dict each."
            )
    assert shop.calls == [], f"Invalid requests reached the shop: {shop.calls}."


async def test_an_unknown_path_and_a_wrong_method_use_the_error_body(deadline) -> None:
    shop = FakeShop({})
    fix = (
        "The router raises Starlette's own HTTPException for these, which a handler for "
        "fastapi.HTTPException never sees: register yours for "
        "starlette.exceptions.HTTPException, the base class."
    )
    async with client_for(shop, deadline) as send:
        missing = await send("GET", "/no/such/page", headers=AUTH)
        wrong_method = await send("DELETE", "/orders", headers=AUTH)
    assert missing.status_code == 404, (
        f"GET /no/such/page answered {missing.status_code}; expected 404."
    )
    error = error_of(missing, "GET /no/such/page", fix)
    assert error == {"code": "not_found", "message": "Not Found"}, (
        f"GET /no/such/page answered the error {error!r}; expected "
        "{'code': 'not_found', 'message': 'Not Found'}: the code from the status "
        "(HTTPStatus(404).phrase in snake case), the message is exc.detail."
    )
    assert wrong_method.status_code == 405, (
        f"DELETE /orders answered {wrong_method.status_code}; expected 405 Method Not Allowed."
    )
    error = error_of(wrong_method, "DELETE /orders", fix)
    assert error["code"] == "method_not_allowed", (
        f"DELETE /orders answered the error {error!r}; the code of a 405 is 'method_not_allowed'."
    )
    assert "POST" in wrong_method.headers.get("allow", ""), (
        f"DELETE /orders answered 405 without the header `Allow: POST` (the headers were "
        f"{dict(wrong_method.headers)}). Starlette puts it on the exception: pass "
        "exc.headers on to the response in your HTTPException handler."
    )


async def test_an_unexpected_error_is_a_500_that_tells_nothing(deadline, caplog) -> None:
    shop = FakeShop({"apple": 5}, orders=(an_order(1),))
    server = Server(app=None)
    # The server logs these errors; the client must get a plain 500 and no details.
    async with client_for(shop, deadline, raise_app_exceptions=False, server=server) as send:
        crashes = {
            "POST /orders (the shop's database is down)": await send(
                "POST", "/orders", json={"sku": "explode", "quantity": 1}, headers=AUTH
            ),
            "GET /orders/666 (the shop's cache fails, in the dependency)": await send(
                "GET", "/orders/666", headers=AUTH
            ),
        }
        after = await send("POST", "/orders", json={"sku": "apple", "quantity": 2}, headers=AUTH)
    fix = "A handler for Exception answers every unexpected error with the same body."
    messages = set()
    for what, response in crashes.items():
        assert response.status_code == 500, (
            f"{what}: an unexpected error was raised, and the app answered "
            f"{response.status_code}: {response.text[:200]}. A bug must be a 500, never a "
            "success or a client error: don't catch Exception in an endpoint, and keep "
            "status_code=500 in the handler for Exception."
        )
        leaked = [
            secret
            for secret in SECRETS
            if secret in response.text or secret in str(response.headers)
        ]
        assert not leaked, (
            f"{what} answered a 500 that shows the client what went wrong inside: "
            f"{response.text[:300]!r}. Error text and tracebacks can hold passwords and "
            "host names: log them, and send a fixed message."
        )
        error = error_of(response, what, fix)
        assert error["code"] == "internal_error", (
            f"{what} answered the error {error!r}; expected the code 'internal_error'."
        )
        messages.add(error["message"])
    assert len(messages) == 1, (
        f"Two different unexpected errors gave two different messages: {sorted(messages)}. "
        "The message of a 500 is fixed: it must not depend on the error."
    )
    for error in shop.unexpected:
        reraised = any(crash is error for crash in server.crashes)
        logged = any(r.exc_info and r.exc_info[1] is error for r in caplog.records)
        assert reraised or logged, (
            f"The unexpected error {error!r} vanished: it was not raised again to the "
            "server (which logs its traceback), and not logged with its traceback either. "
            "Starlette re-raises it after a handler for Exception; if you catch it "
            "yourself (in a middleware), log it: logger.error(..., exc_info=exc)."
        )
    assert after.status_code == 201, (
        f"After two 500s, a good POST /orders answered {after.status_code}: "
        f"{after.text[:200]}. An error in one request must not break the next."
    )
