"""Right answer: skip, limit and category as one Pydantic query-parameter model
(`Annotated[ItemQuery, Query()]`), and itertools.islice for the page."""

from collections.abc import Sequence
from itertools import islice
from typing import Annotated

from fastapi import FastAPI, HTTPException, Path, Query
from pydantic import BaseModel, Field


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


class ItemQuery(BaseModel):
    """The query parameters of GET /items."""

    skip: int = Field(default=0, ge=0)
    limit: int = Field(default=10, ge=1, le=100)
    category: str | None = None


def create_app(items: Sequence[Item]) -> FastAPI:
    """Build an app that serves `items` (a list or tuple, ids unique, in any order)."""
    app = FastAPI(title="Items")
    by_id = {item.id: item for item in items}
    ordered = [by_id[item_id] for item_id in sorted(by_id)]

    @app.get("/items")
    async def list_items(query: Annotated[ItemQuery, Query()]) -> Page:
        """One page of the catalogue, sorted by id (smallest first)."""
        matching = [i for i in ordered if query.category in (None, i.category)]
        page = list(islice(matching, query.skip, query.skip + query.limit))
        return Page(total=len(matching), items=page)

    @app.get("/items/{item_id}")
    async def get_item(item_id: Annotated[int, Path(ge=1)]) -> Item:
        """The item with this id."""
        try:
            return by_id[item_id]
        except KeyError:
            raise HTTPException(status_code=404, detail=f"Item {item_id} not found") from None

    return app


app = create_app([Item(id=1, name="Teapot", category="kitchen", price=25.0)])
