"""Mutant (blind review): A ShopError subclass other than OrderNotFound/OutOfStock is answered
500 instead of 400."""

import asyncio
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


# -- The shop: models, domain errors and a service. Written for you; don't change them. --


class NewOrder(BaseModel):
    """What a client sends to place an order."""

    sku: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=100)

    @field_validator("sku")
    @classmethod
    def sku_is_one_word(cls, value: str) -> str:
        value = value.strip().lower()
        if not value or any(char.isspace() for char in value):
            raise ValueError("a sku is one word, like 'apple' or 'usb-c-cable'")
        return value


class Order(BaseModel):
    """An order, as the shop keeps it and as the API sends it."""

    id: int
    sku: str
    quantity: int
    status: Literal["placed", "cancelled"]


class ShopError(Exception):
    """Base class of the shop's domain errors: what the client asked for can't be done.

    `code` is a short name for programs; str(error) is a message meant for the client.
    """

    code = "shop_error"


class OrderNotFound(ShopError):
    code = "order_not_found"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"There is no order {order_id}.")
        self.order_id = order_id


class OutOfStock(ShopError):
    code = "out_of_stock"

    def __init__(self, sku: str, requested: int, available: int) -> None:
        super().__init__(f"Only {available} of {sku!r} left; {requested} requested.")
        self.sku = sku
        self.requested = requested
        self.available = available


class Shop(Protocol):
    """The service the API talks to. It knows nothing about HTTP."""

    async def place_order(self, sku: str, quantity: int) -> Order:
        """Place an order; raises OutOfStock if there is not enough of `sku`."""
        ...

    async def get_order(self, order_id: int) -> Order:
        """The order with this id; raises OrderNotFound if there is none."""
        ...

    async def cancel_order(self, order_id: int) -> Order:
        """Cancel an order and return it; raises OrderNotFound if there is none."""
        ...


class InMemoryShop:
    """A Shop that keeps its stock and orders in dicts (the tests bring their own)."""

    def __init__(self, stock: Mapping[str, int]) -> None:
        self._stock = dict(stock)
        self._orders: dict[int, Order] = {}

    async def place_order(self, sku: str, quantity: int) -> Order:
        await asyncio.sleep(0)  # a real shop would wait for its database here
        available = self._stock.get(sku, 0)
        if quantity > available:
            raise OutOfStock(sku, quantity, available)
        self._stock[sku] = available - quantity
        order = Order(id=len(self._orders) + 1, sku=sku, quantity=quantity, status="placed")
        self._orders[order.id] = order
        return order

    async def get_order(self, order_id: int) -> Order:
        await asyncio.sleep(0)
        if order_id not in self._orders:
            raise OrderNotFound(order_id)
        return self._orders[order_id]

    async def cancel_order(self, order_id: int) -> Order:
        order = await self.get_order(order_id)
        if order.status == "placed":
            self._stock[order.sku] += order.quantity
            order = order.model_copy(update={"status": "cancelled"})
            self._orders[order_id] = order
        return order


# -- The API: your part. ------------------------------------------------------------------


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one shape of every error: `{"error": {"code": code, "message": message}}`.

    With `details`, the inner dict gets a third key, "details". The response has the
    given status code and headers.
    """
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status_code, headers=headers)


async def shop_error_handler(request: Request, exc: ShopError) -> JSONResponse:
    """A domain error: 404 for OrderNotFound, 409 for OutOfStock, 400 for any other ShopError.

    The code is `exc.code`, the message is `str(exc)`.
    """
    statuses = {OrderNotFound: status.HTTP_404_NOT_FOUND, OutOfStock: status.HTTP_409_CONFLICT}
    return error_response(statuses.get(type(exc), 500), exc.code, str(exc))


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Any HTTPException, FastAPI's or Starlette's (an unknown path, a wrong method).

    Its own status code and headers. The code is the status's name in snake case
    (`HTTPStatus(404).phrase` is "Not Found": the code is "not_found"), the message is
    `exc.detail`.
    """
    code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    return error_response(exc.status_code, code, exc.detail, headers=exc.headers)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A request that does not fit the parameters or the body: 422, code "validation_error".

    The message is a short sentence; "details" lists one dict per problem in
    `exc.errors()`, with at least its "loc" (as a list), "type" and "msg".
    """
    details = [
        {"loc": list(error["loc"]), "type": error["type"], "msg": error["msg"]}
        for error in exc.errors()
    ]
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "validation_error",
        "The request is not valid.",
        details=details,
    )


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Any other exception is a bug: 500, code "internal_error", and a fixed message.

    Log the error for yourself; never send its text or traceback to the client.
    """
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def create_app(shop: Shop, api_token: str) -> FastAPI:
    """A fresh app that serves `shop`.

    Every route needs the header `Authorization: Bearer <api_token>`. Without it, or with
    another token: 401, with the header `WWW-Authenticate: Bearer`.

    - `POST /orders`, body NewOrder: `shop.place_order(sku, quantity)`; 201 and the Order.
    - `GET /orders/{order_id}`: the Order, loaded by a dependency that calls
      `shop.get_order(order_id)`.
    - `POST /orders/{order_id}/cancel`: `shop.cancel_order(order_id)`; the cancelled Order.

    Every error answer, whoever raised it, has the body
    `{"error": {"code": ..., "message": ...}}`: register the four handlers above.
    """

    async def require_token(authorization: Annotated[str | None, Header()] = None) -> None:
        if authorization != f"Bearer {api_token}":
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="Missing or invalid bearer token.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def existing_order(order_id: int) -> Order:
        return await shop.get_order(order_id)

    app = FastAPI(title="Orders", dependencies=[Depends(require_token)])

    @app.post("/orders", status_code=status.HTTP_201_CREATED)
    async def place_order(new_order: NewOrder) -> Order:
        return await shop.place_order(new_order.sku, new_order.quantity)

    @app.get("/orders/{order_id}")
    async def get_order(order: Annotated[Order, Depends(existing_order)]) -> Order:
        return order

    @app.post("/orders/{order_id}/cancel")
    async def cancel_order(order_id: int) -> Order:
        return await shop.cancel_order(order_id)

    app.add_exception_handler(ShopError, shop_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
    return app
