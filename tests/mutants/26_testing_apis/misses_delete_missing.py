"""Mutant (misses one bug): never deletes an order that is not there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


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


async def test_create_order(client: httpx.AsyncClient) -> None:
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


async def test_read_order(client: httpx.AsyncClient) -> None:
    first = (await client.post("/orders", json={"item": "apple", "quantity": 1})).json()
    second = (await client.post("/orders", json={"item": "fig", "quantity": 100})).json()
    assert first["id"] != second["id"]
    for order in (first, second):
        response = await client.get(f"/orders/{order['id']}")
        assert response.status_code == 200
        assert response.json() == order
    missing = await client.get("/orders/999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "order not found"}


async def test_invalid_orders_are_rejected(client: httpx.AsyncClient) -> None:
    for body in (
        {"item": "pear", "quantity": 0},
        {"item": "pear", "quantity": 101},
        {"item": "pear", "quantity": -1},
        {"item": "", "quantity": 1},
        {"item": "kiwi", "quantity": 1},
        {"item": "pear"},
    ):
        response = await client.post("/orders", json=body)
        assert response.status_code == 422, body
    assert (await client.get("/orders")).json() == []


async def test_list_and_delete(client: httpx.AsyncClient) -> None:
    made = [
        (await client.post("/orders", json={"item": item, "quantity": 2})).json()
        for item in ("apple", "pear", "fig")
    ]
    assert (await client.get("/orders")).json() == made
    deleted = await client.delete(f"/orders/{made[1]['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await client.get(f"/orders/{made[1]['id']}")).status_code == 404
    assert (await client.get("/orders")).json() == [made[0], made[2]]
    newer = (await client.post("/orders", json={"item": "apple", "quantity": 1})).json()
    assert newer["id"] not in {order["id"] for order in made}
    assert (await client.get("/orders")).json() == [made[0], made[2], newer]
