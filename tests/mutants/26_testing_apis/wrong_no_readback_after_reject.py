"""Wrong: checks each bad body gets 422 but never looks whether an order was created anyway"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls `app` in-process, with the app's lifespan running."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_create_order(client: httpx.AsyncClient) -> None:
    """POST /orders makes an order: check everything the service promises about it."""
    response = await client.post("/orders", json={"item": "pear", "quantity": 3})
    assert response.status_code == 201
    assert response.json() == {
        "id": 1,
        "item": "pear",
        "quantity": 3,
        "total": 210,
        "status": "pending",
    }
    assert response.headers["location"] == "/orders/1"
    for quantity, total in ((1, 120), (100, 12000)):
        response = await client.post("/orders", json={"item": "fig", "quantity": quantity})
        assert response.status_code == 201
        assert response.json()["total"] == total


async def test_read_order(client: httpx.AsyncClient) -> None:
    """GET /orders/{id} gives back what was created; a missing order is a 404."""
    first = await client.post("/orders", json={"item": "apple", "quantity": 4})
    second = await client.post("/orders", json={"item": "pear", "quantity": 2})
    for created in (first, second):
        response = await client.get(created.headers["location"])
        assert response.status_code == 200
        assert response.json() == created.json()
    missing = await client.get("/orders/3")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "order not found"}


@pytest.mark.parametrize(
    "body",
    [
        {"item": "pear", "quantity": 0},
        {"item": "pear", "quantity": 101},
        {"item": "pear", "quantity": 2.5},
        {"item": "kiwi", "quantity": 1},
        {"item": "Pear", "quantity": 1},
        {"item": "", "quantity": 1},
        {"item": "pear"},
        {"quantity": 1},
    ],
)
async def test_invalid_orders_are_rejected(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    """Bodies that break the rules get a 422, and create nothing."""
    response = await client.post("/orders", json=body)
    assert response.status_code == 422


async def test_list_and_delete(client: httpx.AsyncClient) -> None:
    """GET /orders lists orders oldest first; DELETE removes one (and a second DELETE 404s)."""
    orders = [
        (await client.post("/orders", json={"item": item, "quantity": q})).json()
        for item, q in (("fig", 2), ("apple", 5), ("pear", 7), ("apple", 9))
    ]
    assert (await client.get("/orders")).json() == orders
    response = await client.delete("/orders/2")
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get("/orders/2")).status_code == 404
    assert (await client.get("/orders")).json() == [orders[0], orders[2], orders[3]]
    assert (await client.delete("/orders/2")).status_code == 404
    new = await client.post("/orders", json={"item": "fig", "quantity": 3})
    assert new.json()["id"] == 5
