"""Mutant (misses one bug): tries an unknown product on GET only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from shop_app import PaymentDeclined, Product, get_gateway, get_repository

PRODUCTS = [
    Product(id=1, name="teapot", price=2500, stock=3),
    Product(id=2, name="cup", price=400, stock=10),
]


class FakeRepository:
    """An in-memory product database that keeps what was done with it (given)."""

    def __init__(self, products: list[Product]) -> None:
        self.products = {p.id: p.model_copy() for p in products}
        self.orders: list[tuple[str, int, int, str]] = []

    async def get_product(self, product_id: int) -> Product | None:
        product = self.products.get(product_id)
        return product.model_copy() if product else None

    async def reserve(self, product_id: int, quantity: int) -> None:
        self.products[product_id].stock -= quantity

    async def release(self, product_id: int, quantity: int) -> None:
        self.products[product_id].stock += quantity

    async def save_order(
        self, customer: str, product_id: int, quantity: int, charge_id: str
    ) -> int:
        self.orders.append((customer, product_id, quantity, charge_id))
        return len(self.orders)


class FakeGateway:
    """A payment provider that records every charge, or declines them all (given)."""

    def __init__(self, decline: str | None = None) -> None:
        self.decline = decline
        self.charges: list[tuple[str, int]] = []

    async def charge(self, customer: str, amount: int) -> str:
        if self.decline is not None:
            raise PaymentDeclined(self.decline)
        self.charges.append((customer, amount))
        return f"ch_{len(self.charges)}"


@pytest.fixture
def repository() -> FakeRepository:
    return FakeRepository(PRODUCTS)


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def client(
    app: FastAPI, repository: FakeRepository, gateway: FakeGateway
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app` with the database and the payment provider replaced by fakes."""
    app.dependency_overrides[get_repository] = lambda: repository
    app.dependency_overrides[get_gateway] = lambda: gateway
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as client:
            yield client
    finally:
        app.dependency_overrides.clear()


def buy(product_id: int, quantity: int) -> dict[str, object]:
    return {"customer": "ada", "product_id": product_id, "quantity": quantity}


async def test_product_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/products/2")
    assert response.status_code == 200
    assert response.json() == {"id": 2, "name": "cup", "price": 400, "stock": 10}
    assert (await client.get("/products/99")).status_code == 404


async def test_checkout(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    response = await client.post("/checkout", json=buy(1, 2))
    assert response.status_code == 201
    assert response.json() == {"order_id": 1, "charge_id": "ch_1", "amount": 5000}
    assert gateway.charges == [("ada", 5000)]
    assert repository.orders == [("ada", 1, 2, "ch_1")]
    assert repository.products[1].stock == 1
    second = await client.post("/checkout", json=buy(2, 1))
    assert second.json() == {"order_id": 2, "charge_id": "ch_2", "amount": 400}
    assert repository.orders[1] == ("ada", 2, 1, "ch_2")


async def test_bad_checkouts_change_nothing(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    for quantity in (0, 11):
        assert (await client.post("/checkout", json=buy(2, quantity))).status_code == 422
    assert gateway.charges == []
    assert repository.orders == []
    assert repository.products[2].stock == 10


async def test_out_of_stock(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    response = await client.post("/checkout", json=buy(1, 4))
    assert response.status_code == 409
    assert gateway.charges == []
    assert repository.orders == []
    assert repository.products[1].stock == 3
    exactly = await client.post("/checkout", json=buy(1, 3))
    assert exactly.status_code == 201
    assert repository.products[1].stock == 0


async def test_declined_payment(
    app: FastAPI, client: httpx.AsyncClient, repository: FakeRepository
) -> None:
    app.dependency_overrides[get_gateway] = lambda: FakeGateway(decline="card expired")
    response = await client.post("/checkout", json=buy(2, 5))
    assert response.status_code == 402
    assert response.json() == {"detail": "card expired"}
    assert repository.products[2].stock == 10
    assert repository.orders == []
