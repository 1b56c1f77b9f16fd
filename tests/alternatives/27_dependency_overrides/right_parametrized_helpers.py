"""Right: parametrized tests, a checkout helper, yield-style override functions and a
snapshot/restore of the overrides
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

    async def fake_repository() -> AsyncIterator[FakeRepository]:
        yield repository

    def fake_gateway() -> FakeGateway:
        return gateway

    before = dict(app.dependency_overrides)
    app.dependency_overrides.update({get_repository: fake_repository, get_gateway: fake_gateway})
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://shop.test"
        ) as http:
            yield http
    finally:
        app.dependency_overrides.clear()
        app.dependency_overrides.update(before)


async def buy(
    client: httpx.AsyncClient, customer: str, product_id: int, quantity: int
) -> httpx.Response:
    return await client.post(
        "/checkout", json={"customer": customer, "product_id": product_id, "quantity": quantity}
    )


def stock(repository: FakeRepository) -> dict[int, int]:
    return {pid: product.stock for pid, product in repository.products.items()}


@pytest.mark.parametrize("product", PRODUCTS, ids=lambda p: p.name)
async def test_product_page(client: httpx.AsyncClient, product: Product) -> None:
    """GET /products/{id}: a product from your fake repository; an unknown id is a 404."""
    response = await client.get(f"/products/{product.id}")
    assert response.status_code == 200
    assert Product.model_validate(response.json()) == product

    missing = await client.get("/products/404")
    assert missing.status_code == 404
    assert "detail" in missing.json()


@pytest.mark.parametrize(
    ("customer", "product_id", "quantity", "amount", "left"),
    [("ada", 1, 2, 5000, 1), ("bob", 2, 10, 4000, 0), ("eve", 1, 1, 2500, 2)],
)
async def test_checkout(
    client: httpx.AsyncClient,
    repository: FakeRepository,
    gateway: FakeGateway,
    customer: str,
    product_id: int,
    quantity: int,
    amount: int,
    left: int,
) -> None:
    """A good checkout: the answer, the charge the gateway saw, the order and the stock."""
    response = await buy(client, customer, product_id, quantity)
    assert response.status_code == 201, response.text
    assert response.json() == {"order_id": 1, "charge_id": "ch_1", "amount": amount}
    assert gateway.charges == [(customer, amount)]
    assert repository.orders == [(customer, product_id, quantity, "ch_1")]
    assert repository.products[product_id].stock == left

    again = await buy(client, "zoe", 1, 1)  # a teapot is always left after the first buy
    assert again.status_code == 201
    assert again.json() == {"order_id": 2, "charge_id": "ch_2", "amount": 2500}
    assert gateway.charges == [(customer, amount), ("zoe", 2500)]
    assert repository.orders[-1] == ("zoe", 1, 1, "ch_2")


async def test_unknown_product_checkout(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway
) -> None:
    response = await buy(client, "ada", 42, 1)
    assert response.status_code == 404
    assert (gateway.charges, repository.orders, stock(repository)) == ([], [], {1: 3, 2: 10})


@pytest.mark.parametrize(
    "body",
    [
        {"customer": "ada", "product_id": 2, "quantity": 0},
        {"customer": "ada", "product_id": 2, "quantity": 11},
        {"customer": "", "product_id": 2, "quantity": 1},
        {"customer": "ada", "product_id": 2},
    ],
)
async def test_invalid_body(
    client: httpx.AsyncClient, repository: FakeRepository, gateway: FakeGateway, body: dict
) -> None:
    response = await client.post("/checkout", json=body)
    assert response.status_code == 422
    assert (gateway.charges, repository.orders, stock(repository)) == ([], [], {1: 3, 2: 10})


@pytest.mark.parametrize(("product_id", "quantity"), [(1, 4), (1, 10), (2, 10)])
async def test_out_of_stock(
    client: httpx.AsyncClient,
    repository: FakeRepository,
    gateway: FakeGateway,
    product_id: int,
    quantity: int,
) -> None:
    """More than the stock: 409, nobody charged, nothing saved. Exactly the stock is fine."""
    if product_id == 2:  # bring the cups down to 9 first, so 10 is one too many
        assert (await buy(client, "ada", 2, 1)).status_code == 201
    charges, orders, before = list(gateway.charges), list(repository.orders), stock(repository)

    response = await buy(client, "bob", product_id, quantity)
    assert response.status_code == 409
    assert response.json()["detail"]
    assert gateway.charges == charges
    assert repository.orders == orders
    assert stock(repository) == before

    exact = before[product_id]
    response = await buy(client, "bob", product_id, exact)
    assert response.status_code == 201
    assert response.json()["amount"] == exact * repository.products[product_id].price
    assert gateway.charges[-1] == ("bob", exact * repository.products[product_id].price)
    assert repository.products[product_id].stock == 0


@pytest.mark.parametrize("reason", ["card expired", "insufficient funds"])
async def test_declined_payment(
    app: FastAPI, client: httpx.AsyncClient, repository: FakeRepository, reason: str
) -> None:
    """A declining gateway (override it again in this test): 402, stock back, no order."""
    declining = FakeGateway(decline=reason)
    app.dependency_overrides[get_gateway] = lambda: declining

    response = await buy(client, "ada", 2, 4)
    assert response.status_code == 402
    assert response.json() == {"detail": reason}
    assert declining.charges == []
    assert repository.orders == []
    assert stock(repository) == {1: 3, 2: 10}
