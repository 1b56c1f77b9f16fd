"""Right answer: FastAPI(exception_handlers={...}) with one handler per domain class (the most
specific wins), an APIRouter with the token dependency, a sync token check, a model for the body."""

import asyncio
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, status
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


# -- The API --------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one shape of every error."""
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(exclude_none=True), status_code, headers=headers)


def status_handler(status_code: int) -> Any:
    async def handler(request: Request, exc: ShopError) -> JSONResponse:
        return error_response(status_code, exc.code, str(exc))

    return handler


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTPStatus(exc.status_code).name.lower()  # NOT_FOUND -> not_found
    return error_response(exc.status_code, code, exc.detail, headers=exc.headers)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [{key: error[key] for key in ("loc", "type", "msg")} for error in exc.errors()]
    for item in details:
        item["loc"] = list(item["loc"])
    count = len(details)
    message = f"{count} problem{'s' if count != 1 else ''} with the request."
    return error_response(422, "validation_error", message, details=details)


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.error("Unexpected %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", "Internal server error.")


def create_app(shop: Shop, api_token: str) -> FastAPI:
    """A fresh app that serves `shop`."""

    def check_token(authorization: Annotated[str, Header()] = "") -> None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token != api_token:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Missing or invalid token.",
                headers={"WWW-Authenticate": 'Bearer realm="orders"'},
            )

    class LoadOrder:
        async def __call__(self, order_id: int) -> Order:
            return await shop.get_order(order_id)

    router = APIRouter(prefix="/orders", dependencies=[Depends(check_token)])

    @router.post("", status_code=201)
    async def place_order(new_order: NewOrder) -> Order:
        return await shop.place_order(new_order.sku, new_order.quantity)

    @router.get("/{order_id}")
    async def get_order(order: Annotated[Order, Depends(LoadOrder())]) -> Order:
        return order

    @router.post("/{order_id}/cancel")
    async def cancel_order(order_id: int) -> Order:
        return await shop.cancel_order(order_id)

    app = FastAPI(
        title="Orders",
        exception_handlers={
            OrderNotFound: status_handler(404),
            OutOfStock: status_handler(409),
            ShopError: status_handler(400),
            StarletteHTTPException: http_error_handler,
            RequestValidationError: validation_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.include_router(router)
    return app
