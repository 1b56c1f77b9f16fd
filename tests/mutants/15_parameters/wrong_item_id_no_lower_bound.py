"""Mutant (blind review): item_id is a plain int with no ge=1, so /items/0 and /items/-1 get 404
instead of 422."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel


class Item(BaseModel):
    """One item of the catalogue."""

    id: int
    name: str
    category: str
    price: float


class Page(BaseModel):
    """What GET /items answers: one page of items, and how many matched in all."""

    total: int
    items: list[Item]


def create_app(items: Sequence[Item]) -> FastAPI:
    """Build an app that serves `items` (a list or tuple, ids unique, in any order)."""
    app = FastAPI(title="Items")
    catalogue = sorted(items, key=lambda item: item.id)
    by_id = {item.id: item for item in catalogue}

    @app.get("/items", response_model=Page)
    async def list_items(
        skip: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        category: str | None = None,
    ):
        """One page of the catalogue, sorted by id (smallest first)."""
        matching = [i for i in catalogue if category is None or i.category == category]
        return Page(total=len(matching), items=matching[skip : skip + limit])

    @app.get("/items/{item_id}", response_model=Item)
    async def get_item(item_id: int):
        """The item with this id."""
        if item_id not in by_id:
            raise HTTPException(status_code=404, detail=f"Item {item_id} not found")
        return by_id[item_id]

    return app


app = create_app(  # what `fastapi dev items_api.py` or `uvicorn items_api:app` serves
    [
        Item(id=1, name="Teapot", category="kitchen", price=25.0),
        Item(id=2, name="Kettle", category="kitchen", price=40.0),
        Item(id=3, name="Hammer", category="tools", price=15.5),
    ]
)
