"""The app under test in kata 26. It works: your tests must pass against it.

(Read it, but don't edit it. The grader also runs your tests against broken copies.)

A small order service:
- `POST /orders` with `{"item": ..., "quantity": ...}` creates an order: `201`, the order
  as JSON (`id`, `item`, `quantity`, `total`, `status`), and a `Location: /orders/<id>`
  header. `item` is 1 to 40 characters and must be on the price list (else `422`);
  `quantity` is a whole number from 1 to 100 (else `422`).
- `GET /orders/{order_id}` gives the order, or `404` with `{"detail": "order not found"}`.
- `GET /orders` lists every order, oldest first.
- `DELETE /orders/{order_id}` removes it: `204` and no body, or `404`.
The price list is loaded when the app starts (its lifespan): without the lifespan running,
every request that needs a price fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

PRICES = {"apple": 50, "pear": 70, "fig": 120}  # cents


class OrderIn(BaseModel):
    item: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=100)


class Order(BaseModel):
    id: int
    item: str
    quantity: int
    total: int  # cents: the item's price times the quantity
    status: str = "pending"


class OrderStore:
    """Orders in memory; one store per app."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.last_id = 0

    def add(self, item: str, quantity: int, price: int) -> Order:
        self.last_id += 1
        order = Order(id=self.last_id, item=item, quantity=quantity, total=price * quantity)
        self.orders[order.id] = order
        return order

    def get(self, order_id: int) -> Order | None:
        return self.orders.get(order_id)

    def remove(self, order_id: int) -> bool:
        return self.orders.pop(order_id, None) is not None


def create_app(store: OrderStore | None = None) -> FastAPI:
    """A fresh app with its own store."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.prices = dict(PRICES)  # a real app would load these from a database
        yield
        del app.state.prices

    app = FastAPI(lifespan=lifespan)
    app.state.store = store or OrderStore()

    @app.post("/orders", status_code=status.HTTP_201_CREATED)
    async def create_order(body: OrderIn, request: Request, response: Response) -> Order:
        prices: dict[str, int] = request.app.state.prices
        if body.item not in prices:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "unknown item")
        order = request.app.state.store.add(body.item, body.quantity, prices[body.item])
        response.headers["Location"] = f"/orders/{order.id}"
        return order

    @app.get("/orders")
    async def list_orders(request: Request) -> list[Order]:
        return list(request.app.state.store.orders.values())

    @app.get("/orders/{order_id}")
    async def read_order(order_id: int, request: Request) -> Order:
        order = request.app.state.store.get(order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
        return order

    @app.delete("/orders/{order_id}", status_code=status.HTTP_204_NO_CONTENT)
    async def delete_order(order_id: int, request: Request) -> None:
        if not request.app.state.store.remove(order_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")

    return app


app = create_app()
