"""Wrong: tests 0 and 101 are rejected but never that 1 and 100 are accepted: an off-by-one at
either end of 1..100 gets through
"""

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
    response = await client.post("/orders", json={"item": "fig", "quantity": 50})
    assert response.json() == {
        "id": 2,
        "item": "fig",
        "quantity": 50,
        "total": 6000,
        "status": "pending",
    }
    assert response.headers["location"] == "/orders/2"


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


@pytest.mark.parametrize("quantity", [0, 101, -3, 500, 2.5, "x"])
async def test_invalid_orders_are_rejected(client: httpx.AsyncClient, quantity: object) -> None:
    """Bodies that break the rules get a 422, and create nothing."""
    response = await client.post("/orders", json={"item": "pear", "quantity": quantity})
    assert response.status_code == 422
    for body in ({"item": "kiwi", "quantity": 2}, {"item": "", "quantity": 2}, {}):
        assert (await client.post("/orders", json=body)).status_code == 422
    assert (await client.get("/orders")).json() == []


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
