"""Mutant: tests that assert nothing about the service."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as client,
    ):
        yield client


async def test_create_order(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", json={"item": "pear", "quantity": 3})
    assert response is not None


async def test_read_order(client: httpx.AsyncClient) -> None:
    assert True


async def test_invalid_orders_are_rejected(client: httpx.AsyncClient) -> None:
    assert True


async def test_list_and_delete(client: httpx.AsyncClient) -> None:
    assert True
