"""Right: plain tests in the stub's four functions, each checking status, whole body, headers and
effects.
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

    # every item on the price list, and both ends of the quantity range
    response = await client.post("/orders", json={"item": "apple", "quantity": 1})
    assert response.status_code == 201
    assert response.json() == {
        "id": 2,
        "item": "apple",
        "quantity": 1,
        "total": 50,
        "status": "pending",
    }
    assert response.headers["location"] == "/orders/2"

    response = await client.post("/orders", json={"item": "fig", "quantity": 100})
    assert response.status_code == 201
    assert response.json() == {
        "id": 3,
        "item": "fig",
        "quantity": 100,
        "total": 12000,
        "status": "pending",
    }
    assert response.headers["location"] == "/orders/3"

    # the created order can be read back at its Location
    for location, item in (("/orders/1", "pear"), ("/orders/2", "apple"), ("/orders/3", "fig")):
        got = await client.get(location)
        assert got.status_code == 200
        assert got.json()["item"] == item


async def test_read_order(client: httpx.AsyncClient) -> None:
    """GET /orders/{id} gives back what was created; a missing order is a 404."""
    first = await client.post("/orders", json={"item": "apple", "quantity": 2})
    second = await client.post("/orders", json={"item": "fig", "quantity": 5})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]

    for created in (first, second):
        got = await client.get(created.headers["location"])
        assert got.status_code == 200
        assert got.json() == created.json()
        got_again = await client.get(f"/orders/{created.json()['id']}")
        assert got_again.json() == created.json()

    missing = await client.get("/orders/999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "order not found"}
    missing = await client.get("/orders/3")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "order not found"}


async def test_invalid_orders_are_rejected(client: httpx.AsyncClient) -> None:
    """Bodies that break the rules get a 422, and create nothing."""
    bad_bodies = [
        {"item": "pear", "quantity": 0},
        {"item": "pear", "quantity": 101},
        {"item": "pear", "quantity": -1},
        {"item": "pear", "quantity": 2.5},
        {"item": "pear", "quantity": "many"},
        {"item": "pear"},
        {"quantity": 2},
        {"item": "", "quantity": 2},
        {"item": "x" * 41, "quantity": 2},
        {"item": "banana", "quantity": 2},
        {"item": "Pear", "quantity": 2},
        {"item": "pear ", "quantity": 2},
        {},
    ]
    for body in bad_bodies:
        response = await client.post("/orders", json=body)
        assert response.status_code == 422, body
        assert "location" not in response.headers, body

    listing = await client.get("/orders")
    assert listing.status_code == 200
    assert listing.json() == []
    assert (await client.get("/orders/1")).status_code == 404

    # the rejected bodies did not use up ids either
    response = await client.post("/orders", json={"item": "apple", "quantity": 1})
    assert response.status_code == 201
    assert response.json()["id"] == 1


async def test_list_and_delete(client: httpx.AsyncClient) -> None:
    """GET /orders lists orders oldest first; DELETE removes one (and a second DELETE 404s)."""
    empty = await client.get("/orders")
    assert empty.status_code == 200
    assert empty.json() == []

    created = []
    for item, quantity in (("fig", 2), ("apple", 7), ("pear", 1), ("fig", 9)):
        response = await client.post("/orders", json={"item": item, "quantity": quantity})
        assert response.status_code == 201
        created.append(response.json())

    listing = await client.get("/orders")
    assert listing.status_code == 200
    assert listing.json() == created

    middle = created[1]["id"]
    deleted = await client.delete(f"/orders/{middle}")
    assert deleted.status_code == 204
    assert deleted.content == b""

    assert (await client.get(f"/orders/{middle}")).status_code == 404
    assert (await client.get("/orders")).json() == [created[0], created[2], created[3]]
    # the others are untouched
    assert (await client.get(f"/orders/{created[0]['id']}")).json() == created[0]
    assert (await client.get(f"/orders/{created[2]['id']}")).json() == created[2]

    again = await client.delete(f"/orders/{middle}")
    assert again.status_code == 404
    assert again.json() == {"detail": "order not found"}
    never = await client.delete("/orders/999")
    assert never.status_code == 404
    assert (await client.get("/orders")).json() == [created[0], created[2], created[3]]

    # a new order after a delete gets a fresh id, never a reused one
    response = await client.post("/orders", json={"item": "apple", "quantity": 4})
    assert response.status_code == 201
    assert response.json() == {
        "id": 5,
        "item": "apple",
        "quantity": 4,
        "total": 200,
        "status": "pending",
    }
    assert response.headers["location"] == "/orders/5"
    assert (await client.get("/orders")).json() == [
        created[0],
        created[2],
        created[3],
        response.json(),
    ]
