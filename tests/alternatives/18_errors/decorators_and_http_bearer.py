"""Right answer: @app.exception_handler decorators inside create_app, HTTPBearer for the token,
the status looked up by exc.code, jsonable_encoder for the details, sync handlers."""

import asyncio
import logging
import secrets
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any, Literal, Protocol

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
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


# -- The API --------------------------------------------------------------------------------

HTTP_STATUS = {"order_not_found": 404, "out_of_stock": 409}


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one shape of every error."""
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return JSONResponse(status_code=status_code, content=body, headers=dict(headers or {}))


def create_app(shop: Shop, api_token: str) -> FastAPI:
    """A fresh app that serves `shop`."""
    bearer = HTTPBearer()  # a missing or non-Bearer header: 401 with WWW-Authenticate

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
    ) -> None:
        if not secrets.compare_digest(credentials.credentials, api_token):
            raise HTTPException(401, "Unknown token.", headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(dependencies=[Depends(require_token)])

    @app.exception_handler(ShopError)
    def on_shop_error(request: Request, exc: ShopError) -> JSONResponse:
        return error_response(HTTP_STATUS.get(exc.code, 400), exc.code, str(exc))

    @app.exception_handler(StarletteHTTPException)
    def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        phrase = HTTPStatus(exc.status_code).phrase
        return error_response(
            exc.status_code, "_".join(phrase.lower().split()), str(exc.detail), headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(
            422, "validation_error", "Invalid request.", details=jsonable_encoder(exc.errors())
        )

    @app.exception_handler(Exception)
    def on_bug(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("Bug while serving %s", request.url.path)
        return error_response(500, "internal_error", "Internal error. We are on it.")

    async def existing_order(order_id: int) -> Order:
        return await shop.get_order(order_id)

    @app.post("/orders", status_code=201, response_model=Order)
    async def place_order(body: NewOrder) -> Order:
        order = await shop.place_order(body.sku, body.quantity)
        return order

    @app.get("/orders/{order_id}", response_model=Order)
    async def read_order(order: Annotated[Order, Depends(existing_order)]) -> Order:
        return order

    @app.post("/orders/{order_id}/cancel", response_model=Order)
    async def cancel(order_id: int) -> Order:
        return await shop.cancel_order(order_id)

    return app
