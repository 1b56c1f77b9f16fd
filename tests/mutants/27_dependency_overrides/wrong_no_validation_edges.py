"""Wrong: quantity 0, 11 and an empty customer are never sent: a model that lost its bounds slips
through
"""

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
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        app.dependency_overrides.clear()


async def test_product_page(client: httpx.AsyncClient) -> None:
    """GET /products/{id}: a product from your fake repository; an unknown id is a 404."""
    response = await client.get("/products/1")
    assert response.status_code == 200
    assert response.json() == {"id": 1, "name": "teapot", "price": 2500, "stock": 3}

    response = await client.get("/products/2")
    assert response.status_code == 200
    assert response.json() == {"id": 2, "name": "cup", "price": 400, "stock": 10}

    response = await client.get("/products/99")
    assert response.status_code == 404
    assert response.json() == {"detail": "no such product"}


async def test_checkout(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    """A good checkout: the answer, the charge the gateway saw, the order and the stock."""
    response = await client.post(
        "/checkout", json={"customer": "ada", "product_id": 1, "quantity": 2}
    )
    assert response.status_code == 201
    assert response.json() == {"order_id": 1, "charge_id": "ch_1", "amount": 5000}
    assert gateway.charges == [("ada", 5000)]
    assert repository.orders == [("ada", 1, 2, "ch_1")]
    assert repository.products[1].stock == 1
    assert repository.products[2].stock == 10

    # A second order gets the next ids: nothing is hard-wired to the first one.
    response = await client.post(
        "/checkout", json={"customer": "bob", "product_id": 2, "quantity": 3}
    )
    assert response.status_code == 201
    assert response.json() == {"order_id": 2, "charge_id": "ch_2", "amount": 1200}
    assert gateway.charges == [("ada", 5000), ("bob", 1200)]
    assert repository.orders == [("ada", 1, 2, "ch_1"), ("bob", 2, 3, "ch_2")]
    assert repository.products[2].stock == 7

    # The product page shows the stock left.
    response = await client.get("/products/1")
    assert response.json()["stock"] == 1


async def test_unknown_product_checkout(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    """Rule 1: an unknown product is a 404, and nothing else happens."""
    response = await client.post(
        "/checkout", json={"customer": "ada", "product_id": 99, "quantity": 1}
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "no such product"}
    assert gateway.charges == []
    assert repository.orders == []
    assert {pid: p.stock for pid, p in repository.products.items()} == {1: 3, 2: 10}


async def test_out_of_stock(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    """More than the stock: 409, nobody charged, nothing saved. Exactly the stock is fine."""
    response = await client.post(
        "/checkout", json={"customer": "ada", "product_id": 1, "quantity": 4}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "not enough stock"}
    assert gateway.charges == []
    assert repository.orders == []
    assert repository.products[1].stock == 3

    response = await client.post(
        "/checkout", json={"customer": "ada", "product_id": 1, "quantity": 3}
    )
    assert response.status_code == 201
    assert response.json() == {"order_id": 1, "charge_id": "ch_1", "amount": 7500}
    assert gateway.charges == [("ada", 7500)]
    assert repository.products[1].stock == 0

    response = await client.post(
        "/checkout", json={"customer": "bob", "product_id": 1, "quantity": 1}
    )
    assert response.status_code == 409
    assert gateway.charges == [("ada", 7500)]
    assert repository.orders == [("ada", 1, 3, "ch_1")]
    assert repository.products[1].stock == 0


async def test_declined_payment(
    app: FastAPI, client: httpx.AsyncClient, repository: FakeRepository
) -> None:
    """A declining gateway (override it again in this test): 402, stock back, no order."""
    declining = FakeGateway(decline="card expired")
    app.dependency_overrides[get_gateway] = lambda: declining

    response = await client.post(
        "/checkout", json={"customer": "ada", "product_id": 1, "quantity": 2}
    )
    assert response.status_code == 402
    assert response.json() == {"detail": "card expired"}
    assert declining.charges == []
    assert repository.orders == []
    assert repository.products[1].stock == 3

    # Declined twice in a row: still nothing lost.
    response = await client.post(
        "/checkout", json={"customer": "ada", "product_id": 1, "quantity": 3}
    )
    assert response.status_code == 402
    assert repository.products[1].stock == 3
    assert repository.orders == []
