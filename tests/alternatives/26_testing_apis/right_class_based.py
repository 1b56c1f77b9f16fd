"""Right: an AsyncExitStack fixture, tests grouped in a class, a round-trip helper per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls `app` in-process, with the app's lifespan running."""
    async with AsyncExitStack() as stack:
        manager = await stack.enter_async_context(LifespanManager(app))
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
            )
        )
        yield client


def expected(order_id: int, item: str, quantity: int, unit: int) -> dict[str, object]:
    return {
        "id": order_id,
        "item": item,
        "quantity": quantity,
        "total": unit * quantity,
        "status": "pending",
    }


async def test_create_order(client: httpx.AsyncClient) -> None:
    """POST /orders makes an order: check everything the service promises about it."""
    response = await client.post("/orders", json={"item": "fig", "quantity": 7})
    assert (response.status_code, response.json(), response.headers.get("location")) == (
        201,
        expected(1, "fig", 7, 120),
        "/orders/1",
    )
    assert response.headers["content-type"].startswith("application/json")
    follow = await client.get(response.headers["location"])
    assert (follow.status_code, follow.json()) == (200, expected(1, "fig", 7, 120))


async def test_read_order(client: httpx.AsyncClient) -> None:
    """GET /orders/{id} gives back what was created; a missing order is a 404."""
    assert (await client.get("/orders/1")).status_code == 404
    await client.post("/orders", json={"item": "apple", "quantity": 100})
    await client.post("/orders", json={"item": "pear", "quantity": 1})
    one = await client.get("/orders/1")
    two = await client.get("/orders/2")
    assert (one.status_code, one.json()) == (200, expected(1, "apple", 100, 50))
    assert (two.status_code, two.json()) == (200, expected(2, "pear", 1, 70))
    three = await client.get("/orders/3")
    assert (three.status_code, three.json()) == (404, {"detail": "order not found"})


class TestRules:
    @pytest.mark.parametrize("quantity", [1, 100])
    async def test_quantity_limits_accepted(self, client: httpx.AsyncClient, quantity: int) -> None:
        response = await client.post("/orders", json={"item": "apple", "quantity": quantity})
        assert response.status_code == 201
        assert response.json() == expected(1, "apple", quantity, 50)

    @pytest.mark.parametrize("quantity", [0, 101, -1, 1000, 0.5, 2.5, "lots", None])
    async def test_quantity_out_of_range(self, client: httpx.AsyncClient, quantity: object) -> None:
        response = await client.post("/orders", json={"item": "apple", "quantity": quantity})
        assert response.status_code == 422
        assert (await client.get("/orders")).json() == []

    @pytest.mark.parametrize("item", ["", "banana", "Fig", " fig", "f" * 41, "pearpear"])
    async def test_bad_items(self, client: httpx.AsyncClient, item: str) -> None:
        response = await client.post("/orders", json={"item": item, "quantity": 1})
        assert response.status_code == 422
        assert (await client.get("/orders")).json() == []


async def test_invalid_orders_are_rejected(client: httpx.AsyncClient) -> None:
    """Bodies that break the rules get a 422, and create nothing."""
    for body in ({}, {"item": "fig"}, {"quantity": 3}, [], "fig", {"item": 3, "quantity": 3}):
        response = await client.post("/orders", json=body)
        assert response.status_code == 422, body
    response = await client.post(
        "/orders", content=b"not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert (await client.get("/orders")).json() == []
    ok = await client.post("/orders", json={"item": "fig", "quantity": 3})
    assert ok.json() == expected(1, "fig", 3, 120)


async def test_list_and_delete(client: httpx.AsyncClient) -> None:
    """GET /orders lists orders oldest first; DELETE removes one (and a second DELETE 404s)."""
    bodies = [("pear", 2, 70), ("apple", 3, 50), ("fig", 4, 120), ("apple", 1, 50)]
    for item, quantity, _ in bodies:
        assert (
            await client.post("/orders", json={"item": item, "quantity": quantity})
        ).status_code == 201
    all_orders = [expected(i, item, q, unit) for i, (item, q, unit) in enumerate(bodies, start=1)]
    assert (await client.get("/orders")).json() == all_orders

    # delete the newest and the oldest
    for order_id in (4, 1):
        response = await client.delete(f"/orders/{order_id}")
        assert (response.status_code, response.content) == (204, b"")
        assert (await client.get(f"/orders/{order_id}")).status_code == 404
        again = await client.delete(f"/orders/{order_id}")
        assert (again.status_code, again.json()) == (404, {"detail": "order not found"})
    assert (await client.get("/orders")).json() == all_orders[1:3]

    new = await client.post("/orders", json={"item": "pear", "quantity": 9})
    assert new.json() == expected(5, "pear", 9, 70)
    assert new.headers["location"] == "/orders/5"
    assert (await client.get("/orders")).json() == [*all_orders[1:3], expected(5, "pear", 9, 70)]
