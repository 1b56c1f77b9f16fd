"""Right: monkeypatch.setitem for every override (undone by pytest), one test class, an async
factory for clients
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
    app: FastAPI,
    repository: FakeRepository,
    gateway: FakeGateway,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app` with the database and the payment provider replaced by fakes."""
    monkeypatch.setitem(app.dependency_overrides, get_repository, lambda: repository)
    monkeypatch.setitem(app.dependency_overrides, get_gateway, lambda: gateway)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        ) as c:
            yield c
    finally:
        monkeypatch.undo()  # the overrides go now, not whenever pytest gets to it


class TestProducts:
    async def test_product_page(self, client: httpx.AsyncClient) -> None:
        """GET /products/{id}: a product from your fake repository; an unknown id is a 404."""
        teapot = await client.get("/products/1")
        cup = await client.get("/products/2")
        unknown = await client.get("/products/0")
        assert (teapot.status_code, cup.status_code, unknown.status_code) == (200, 200, 404)
        assert teapot.json() == PRODUCTS[0].model_dump()
        assert cup.json() == PRODUCTS[1].model_dump()


class TestCheckout:
    async def post(
        self, client: httpx.AsyncClient, product_id: int, quantity: int, customer: str = "ada"
    ) -> httpx.Response:
        return await client.post(
            "/checkout", json={"customer": customer, "product_id": product_id, "quantity": quantity}
        )

    async def test_checkout(
        self, client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
    ) -> None:
        """A good checkout: the answer, the charge the gateway saw, the order and the stock."""
        first = await self.post(client, 1, 2)
        second = await self.post(client, 2, 5, customer="grace")
        assert first.status_code == second.status_code == 201
        assert first.json() == {"order_id": 1, "charge_id": "ch_1", "amount": 5000}
        assert second.json() == {"order_id": 2, "charge_id": "ch_2", "amount": 2000}
        assert gateway.charges == [("ada", 5000), ("grace", 2000)]
        assert repository.orders == [("ada", 1, 2, "ch_1"), ("grace", 2, 5, "ch_2")]
        assert [repository.products[1].stock, repository.products[2].stock] == [1, 5]
        page = await client.get("/products/2")
        assert page.json()["stock"] == 5

    async def test_unknown_product(
        self, client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
    ) -> None:
        response = await self.post(client, 7, 1)
        assert response.status_code == 404
        assert not gateway.charges and not repository.orders
        assert repository.products[1].stock == 3 and repository.products[2].stock == 10

    async def test_bad_bodies(
        self, client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
    ) -> None:
        assert (await self.post(client, 2, 0)).status_code == 422
        assert (await self.post(client, 2, 11)).status_code == 422
        assert (await self.post(client, 2, 1, customer="")).status_code == 422
        assert not gateway.charges and not repository.orders
        assert repository.products[2].stock == 10

    async def test_out_of_stock(
        self, client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
    ) -> None:
        """More than the stock: 409, nobody charged, nothing saved. Exactly the stock is fine."""
        too_many = await self.post(client, 1, 4)
        assert too_many.status_code == 409
        assert too_many.json() == {"detail": "not enough stock"}
        assert gateway.charges == [] and repository.orders == []
        assert repository.products[1].stock == 3

        exactly = await self.post(client, 1, 3)
        assert exactly.status_code == 201
        assert exactly.json()["amount"] == 7500
        assert gateway.charges == [("ada", 7500)]
        assert repository.orders == [("ada", 1, 3, "ch_1")]
        assert repository.products[1].stock == 0

        sold_out = await self.post(client, 1, 1)
        assert sold_out.status_code == 409
        assert len(gateway.charges) == 1 and len(repository.orders) == 1

    async def test_declined_payment(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        repository: FakeRepository,
        gateway: FakeGateway,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A declining gateway (override it again in this test): 402, stock back, no order."""
        declining = FakeGateway(decline="do not honour")
        monkeypatch.setitem(app.dependency_overrides, get_gateway, lambda: declining)
        response = await self.post(client, 1, 3)
        assert response.status_code == 402
        assert response.json()["detail"] == "do not honour"
        assert repository.products[1].stock == 3
        assert repository.orders == []
        assert declining.charges == [] and gateway.charges == []
