"""Right: an `order` fixture built on the client fixture, and one assert per promise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client:
            yield client


@pytest.fixture
async def order(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/orders", json={"item": "pear", "quantity": 5})


async def test_status_is_201(order: httpx.Response) -> None:
    assert order.status_code == 201


async def test_body(order: httpx.Response) -> None:
    body: dict[str, Any] = order.json()
    assert body == {"id": 1, "item": "pear", "quantity": 5, "total": 350, "status": "pending"}


async def test_location_points_at_the_order(
    client: httpx.AsyncClient, order: httpx.Response
) -> None:
    again = await client.get(order.headers["location"])
    assert again.json() == order.json()


async def test_ids_are_new(client: httpx.AsyncClient, order: httpx.Response) -> None:
    other = await client.post("/orders", json={"item": "apple", "quantity": 1})
    assert other.json()["id"] != order.json()["id"]
    assert (await client.get("/orders")).json() == [order.json(), other.json()]


@pytest.mark.parametrize("quantity", [0, 101])
async def test_bad_quantity(client: httpx.AsyncClient, quantity: int) -> None:
    response = await client.post("/orders", json={"item": "fig", "quantity": quantity})
    assert response.status_code == 422


async def test_unknown_item(client: httpx.AsyncClient) -> None:
    assert (await client.post("/orders", json={"item": "kiwi", "quantity": 1})).status_code == 422
    assert (await client.get("/orders")).json() == []


async def test_missing(client: httpx.AsyncClient) -> None:
    assert (await client.get("/orders/5")).status_code == 404


async def test_delete(client: httpx.AsyncClient, order: httpx.Response) -> None:
    url = order.headers["location"]
    assert (await client.delete(url)).status_code == 204
    assert (await client.get(url)).status_code == 404


@pytest.mark.parametrize("quantity", [1, 100])
async def test_quantity_edges_are_allowed(client: httpx.AsyncClient, quantity: int) -> None:
    response = await client.post("/orders", json={"item": "fig", "quantity": quantity})
    assert response.status_code == 201
    assert response.json()["total"] == 120 * quantity


async def test_deleting_a_missing_order_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.delete("/orders/12")).status_code == 404


async def test_ids_stay_unique_after_a_delete(
    client: httpx.AsyncClient, order: httpx.Response
) -> None:
    second = (await client.post("/orders", json={"item": "apple", "quantity": 1})).json()
    await client.delete(order.headers["location"])
    third = (await client.post("/orders", json={"item": "fig", "quantity": 1})).json()
    assert third["id"] != second["id"]
