"""Right: a Test class, a helper that creates orders, and edge values in a loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def create(api: httpx.AsyncClient, item: str, quantity: int) -> dict[str, Any]:
    response = await api.post("/orders", json={"item": item, "quantity": quantity})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/orders/{body['id']}"
    return body


class TestOrders:
    async def test_created_order_has_every_field(self, api: httpx.AsyncClient) -> None:
        assert await create(api, "fig", 2) == {
            "id": 1,
            "item": "fig",
            "quantity": 2,
            "total": 240,
            "status": "pending",
        }

    async def test_orders_read_back(self, api: httpx.AsyncClient) -> None:
        orders = [await create(api, "apple", q) for q in (1, 100)]
        assert len({o["id"] for o in orders}) == 2
        for order in orders:
            assert (await api.get(f"/orders/{order['id']}")).json() == order
        assert (await api.get("/orders")).json() == orders
        assert (await api.get("/orders/42")).status_code == 404

    async def test_rules(self, api: httpx.AsyncClient) -> None:
        for body in (
            {"item": "apple", "quantity": 0},
            {"item": "apple", "quantity": 101},
            {"item": "banana", "quantity": 1},
            {"item": "x" * 41, "quantity": 1},
        ):
            assert (await api.post("/orders", json=body)).status_code == 422, body
        assert (await api.get("/orders")).json() == []

    async def test_delete(self, api: httpx.AsyncClient) -> None:
        order = await create(api, "pear", 1)
        kept = await create(api, "fig", 1)
        assert (await api.delete(f"/orders/{order['id']}")).status_code == 204
        assert (await api.get(f"/orders/{order['id']}")).status_code == 404
        assert (await api.delete(f"/orders/{order['id']}")).status_code == 404
        later = await create(api, "apple", 1)
        assert later["id"] not in (order["id"], kept["id"])
        assert (await api.get("/orders")).json() == [kept, later]
