"""Mutant: limit defaults to its maximum, 100."""

from collections.abc import Sequence
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query
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
    """Build an app that serves `items` (a list or tuple, ids unique, in any order).

    The catalogue never changes while the app runs. Don't change `items` (its order
    included): the caller still uses it. Two apps never share their items.
    """
    app = FastAPI(title="Items")
    catalogue = sorted(items, key=lambda item: item.id)
    by_id = {item.id: item for item in catalogue}

    @app.get("/items")
    async def list_items(
        skip: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 100,
        category: str | None = None,
    ) -> Page:
        """One page of the catalogue, sorted by id (smallest first).

        Query parameters:
        - skip: how many matching items to leave out first; default 0, at least 0;
        - limit: at most how many items to return; default 10, from 1 to 100;
        - category: optional; when given, only items whose category is exactly this.
        Out of bounds (e.g. skip=-1, limit=0, limit=101) or not a whole number: 422.
        Filter first, then skip, then limit. `total` is how many items matched the
        filter (all of them when there is no category), whatever skip and limit are.
        Skipping past the end is fine: no items, status 200.
        """
        matching = [item for item in catalogue if category is None or item.category == category]
        return Page(total=len(matching), items=matching[skip : skip + limit])

    @app.get("/items/{item_id}")
    async def get_item(item_id: Annotated[int, Path(ge=1)]) -> Item:
        """The item with this id.

        item_id must be a whole number of at least 1, or FastAPI answers 422.
        No item with that id: 404 with the body {"detail": "Item <item_id> not found"}.
        """
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
