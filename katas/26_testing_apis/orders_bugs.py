"""Broken copies of the order service: the grader runs your tests against each.

Try not to read this before your tests are written: a good test suite catches bugs it was
not written for. Each bug is one realistic mistake, described the way a bug report would.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from orders_app import Order, OrderIn, OrderStore, create_app
from pydantic import BaseModel, Field


def _replace_route(
    app: FastAPI, method: str, path: str, endpoint: Callable[..., object], **kw: object
) -> None:
    app.router.routes[:] = [
        r
        for r in app.router.routes
        if not (isinstance(r, APIRoute) and r.path == path and method in r.methods)
    ]
    app.add_api_route(path, endpoint, methods=[method], **kw)  # type: ignore[arg-type]


def _broken_create(
    model: type[BaseModel] = OrderIn,
    code: int = status.HTTP_201_CREATED,
    location: bool = True,
    unknown_price: int | None = None,
) -> FastAPI:
    app = create_app()

    async def create_order(body: model, request: Request, response: Response) -> Order:  # type: ignore[valid-type]
        prices: dict[str, int] = request.app.state.prices
        item, quantity = body.item, body.quantity  # type: ignore[attr-defined]
        if item not in prices and unknown_price is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown item")
        order = request.app.state.store.add(item, quantity, prices.get(item, unknown_price or 0))
        if location:
            response.headers["Location"] = f"/orders/{order.id}"
        return order

    _replace_route(app, "POST", "/orders", create_order, status_code=code)
    return app


class _ZeroAllowed(BaseModel):
    item: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=0, le=100)


def zero_quantity() -> FastAPI:
    return _broken_create(model=_ZeroAllowed)


def created_is_200() -> FastAPI:
    return _broken_create(code=status.HTTP_200_OK)


def no_location() -> FastAPI:
    return _broken_create(location=False)


def unknown_item_free() -> FastAPI:
    return _broken_create(unknown_price=0)


def missing_is_null() -> FastAPI:
    app = create_app()

    async def read_order(order_id: int, request: Request) -> Order | None:
        return request.app.state.store.get(order_id)

    _replace_route(app, "GET", "/orders/{order_id}", read_order)
    return app


class _TotalIsUnitPrice(OrderStore):
    def add(self, item: str, quantity: int, price: int) -> Order:
        order = super().add(item, quantity, price)
        order.total = price
        return order


class _DeleteKeeps(OrderStore):
    def remove(self, order_id: int) -> bool:
        return order_id in self.orders


class _IdsRepeat(OrderStore):
    def add(self, item: str, quantity: int, price: int) -> Order:
        self.last_id = 0
        return super().add(item, quantity, price)


def total_ignores_quantity() -> FastAPI:
    return create_app(_TotalIsUnitPrice())


def delete_keeps_the_order() -> FastAPI:
    return create_app(_DeleteKeeps())


def ids_repeat() -> FastAPI:
    return create_app(_IdsRepeat())


class _AtMost99(BaseModel):
    item: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, lt=100)


def quantity_100_rejected() -> FastAPI:
    return _broken_create(model=_AtMost99)


def unknown_item_saved() -> FastAPI:
    app = create_app()

    async def create_order(body: OrderIn, request: Request, response: Response) -> Order:
        prices: dict[str, int] = request.app.state.prices
        order = request.app.state.store.add(body.item, body.quantity, prices.get(body.item, 0))
        if body.item not in prices:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown item")
        response.headers["Location"] = f"/orders/{order.id}"
        return order

    _replace_route(app, "POST", "/orders", create_order, status_code=status.HTTP_201_CREATED)
    return app


def newest_first() -> FastAPI:
    app = create_app()

    async def list_orders(request: Request) -> list[Order]:
        return list(reversed(request.app.state.store.orders.values()))

    _replace_route(app, "GET", "/orders", list_orders)
    return app


def delete_missing_is_204() -> FastAPI:
    app = create_app()

    async def delete_order(order_id: int, request: Request) -> None:
        request.app.state.store.remove(order_id)

    _replace_route(
        app, "DELETE", "/orders/{order_id}", delete_order, status_code=status.HTTP_204_NO_CONTENT
    )
    return app


def fig_lost() -> FastAPI:
    app = create_app()
    startup = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with startup(app):
            del app.state.prices["fig"]  # the price list loaded without its last line
            yield

    app.router.lifespan_context = lifespan
    return app


class _IdsFromCount(OrderStore):
    def add(self, item: str, quantity: int, price: int) -> Order:
        self.last_id = len(self.orders)
        return super().add(item, quantity, price)


def ids_after_delete() -> FastAPI:
    return create_app(_IdsFromCount())


# id -> (what the bug report says, how to build the broken app)
BUGS: dict[str, tuple[str, Callable[[], FastAPI]]] = {
    "quantity-zero": ("POST /orders accepts a quantity of 0", zero_quantity),
    "created-200": ("POST /orders answers 200 instead of 201 Created", created_is_200),
    "no-location": ("POST /orders sends no Location header for the new order", no_location),
    "unknown-item": (
        "an item that is not on the price list is ordered for free",
        unknown_item_free,
    ),
    "missing-null": (
        "GET /orders/{id} of a missing order answers 200 with null, not 404",
        missing_is_null,
    ),
    "total": ("an order's total is the unit price, whatever the quantity", total_ignores_quantity),
    "delete-keeps": (
        "DELETE /orders/{id} answers 204 but the order is still there",
        delete_keeps_the_order,
    ),
    "ids-repeat": ("every new order gets id 1, so it replaces the one before", ids_repeat),
    "quantity-100": ("POST /orders rejects a quantity of 100", quantity_100_rejected),
    "unknown-item-saved": (
        "an order for an item not on the price list is answered 422 but saved anyway",
        unknown_item_saved,
    ),
    "newest-first": ("GET /orders lists the newest order first", newest_first),
    "delete-missing": (
        "DELETE /orders/{id} of an order that does not exist answers 204, not 404",
        delete_missing_is_204,
    ),
    "fig-lost": (
        "figs cannot be ordered: the price list loaded at startup lost its last item",
        fig_lost,
    ),
    "ids-after-delete": (
        "after a delete, a new order can get the id of an order that still exists",
        ids_after_delete,
    ),
}
