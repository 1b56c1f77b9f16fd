"""Mutant: tests a mock of the service, not the service, so every broken copy passes."""

from __future__ import annotations

from unittest.mock import AsyncMock, MagicMock

import pytest
from fastapi import FastAPI


@pytest.fixture
def client(app: FastAPI) -> MagicMock:
    client = MagicMock()
    client.post = AsyncMock(return_value=MagicMock(status_code=201))
    client.get = AsyncMock(return_value=MagicMock(status_code=200))
    client.delete = AsyncMock(return_value=MagicMock(status_code=204))
    return client


async def test_create_order(client: MagicMock) -> None:
    assert (await client.post("/orders", json={"item": "pear", "quantity": 3})).status_code == 201


async def test_read_order(client: MagicMock) -> None:
    assert (await client.get("/orders/1")).status_code == 200


async def test_invalid_orders_are_rejected(client: MagicMock) -> None:
    client.post.assert_not_awaited()


async def test_list_and_delete(client: MagicMock) -> None:
    assert (await client.delete("/orders/1")).status_code == 204
