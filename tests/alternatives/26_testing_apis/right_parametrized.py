"""Right: many small tests, parametrized edges, a helper that creates an order and checks the
reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

PRICES = {"apple": 50, "pear": 70, "fig": 120}


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls `app` in-process, with the app's lifespan running."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        yield client


async def create(client: httpx.AsyncClient, item: str, quantity: int) -> dict[str, Any]:
    response = await client.post("/orders", json={"item": item, "quantity": quantity})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order == {
        "id": order["id"],
        "item": item,
        "quantity": quantity,
        "total": PRICES[item] * quantity,
        "status": "pending",
    }
    assert isinstance(order["id"], int)
    assert response.headers["Location"] == f"/orders/{order['id']}"
    return order


async def test_create_order(client: httpx.AsyncClient) -> None:
    """POST /orders makes an order: check everything the service promises about it."""
    order = await create(client, "pear", 3)
    assert order["id"] == 1
    assert order["total"] == 210


@pytest.mark.parametrize("item", sorted(PRICES))
@pytest.mark.parametrize("quantity", [1, 2, 37, 99, 100])
async def test_every_item_and_quantity(client: httpx.AsyncClient, item: str, quantity: int) -> None:
    order = await create(client, item, quantity)
    got = await client.get(f"/orders/{order['id']}")
    assert got.status_code == 200
    assert got.json() == order


async def test_ids_are_distinct_and_increasing(client: httpx.AsyncClient) -> None:
    ids = [(await create(client, "apple", n))["id"] for n in range(1, 6)]
    assert ids == [1, 2, 3, 4, 5]


async def test_read_order(client: httpx.AsyncClient) -> None:
    """GET /orders/{id} gives back what was created; a missing order is a 404."""
    first = await create(client, "fig", 4)
    second = await create(client, "apple", 9)
    for order in (first, second):
        response = await client.get(f"/orders/{order['id']}")
        assert response.status_code == 200
        assert response.json() == order


@pytest.mark.parametrize("order_id", [0, 1, 2, 42, -1])
async def test_missing_order_is_404(client: httpx.AsyncClient, order_id: int) -> None:
    if order_id == 1:
        await create(client, "pear", 1)
        order_id = 2
    response = await client.get(f"/orders/{order_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": "order not found"}


@pytest.mark.parametrize(
    "body",
    [
        {"item": "pear", "quantity": 0},
        {"item": "pear", "quantity": 101},
        {"item": "pear", "quantity": -5},
        {"item": "pear", "quantity": 1.5},
        {"item": "pear", "quantity": None},
        {"item": "pear", "quantity": "three"},
        {"item": "", "quantity": 1},
        {"item": "a" * 41, "quantity": 1},
        {"item": "kiwi", "quantity": 1},
        {"item": "APPLE", "quantity": 1},
        {"item": " pear", "quantity": 1},
        {"item": None, "quantity": 1},
        {"item": "fig"},
        {"quantity": 1},
        {},
    ],
)
async def test_invalid_orders_are_rejected(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    """Bodies that break the rules get a 422, and create nothing."""
    response = await client.post("/orders", json=body)
    assert response.status_code == 422
    assert "location" not in response.headers
    assert (await client.get("/orders")).json() == []
    assert (await client.get("/orders/1")).status_code == 404


async def test_rejected_body_after_a_good_one_creates_nothing(client: httpx.AsyncClient) -> None:
    order = await create(client, "apple", 1)
    assert (
        await client.post("/orders", json={"item": "apple", "quantity": 101})
    ).status_code == 422
    assert (await client.post("/orders", json={"item": "plum", "quantity": 1})).status_code == 422
    assert (await client.get("/orders")).json() == [order]
    assert (await create(client, "fig", 1))["id"] == 2


async def test_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders")
    assert response.status_code == 200
    assert response.json() == []


async def test_list_and_delete(client: httpx.AsyncClient) -> None:
    """GET /orders lists orders oldest first; DELETE removes one (and a second DELETE 404s)."""
    orders = [
        await create(client, item, q)
        for item, q in [("pear", 5), ("fig", 1), ("apple", 3), ("pear", 8)]
    ]
    assert (await client.get("/orders")).json() == orders

    response = await client.delete(f"/orders/{orders[0]['id']}")
    assert response.status_code == 204
    assert response.content == b""

    gone = await client.get(f"/orders/{orders[0]['id']}")
    assert gone.status_code == 404
    assert gone.json() == {"detail": "order not found"}
    assert (await client.get("/orders")).json() == orders[1:]

    again = await client.delete(f"/orders/{orders[0]['id']}")
    assert again.status_code == 404
    assert again.json() == {"detail": "order not found"}
    assert (await client.get("/orders")).json() == orders[1:]


async def test_delete_last_then_create(client: httpx.AsyncClient) -> None:
    first = await create(client, "apple", 1)
    second = await create(client, "pear", 2)
    assert (await client.delete(f"/orders/{second['id']}")).status_code == 204
    third = await create(client, "fig", 3)
    assert third["id"] not in (first["id"], second["id"])
    assert (await client.get("/orders")).json() == [first, third]
    assert (await client.get(f"/orders/{second['id']}")).status_code == 404


async def test_delete_missing_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete("/orders/1")
    assert response.status_code == 404
    assert response.json() == {"detail": "order not found"}
