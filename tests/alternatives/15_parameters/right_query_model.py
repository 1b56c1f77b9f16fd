"""Right answer (blind review): the query parameters as one Pydantic model (Annotated[ListQuery,
Query()]) and return annotations."""

from collections.abc import Sequence
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


class ListQuery(BaseModel):
    skip: int = Field(default=0, ge=0)
    limit: int = Field(default=10, ge=1, le=100)
    category: str | None = None


def create_app(items: Sequence[Item]) -> FastAPI:
    """Build an app that serves `items` (a list or tuple, ids unique, in any order)."""
    app = FastAPI(title="Items")
    by_id = {item.id: item for item in items}
    catalogue = [by_id[item_id] for item_id in sorted(by_id)]

    @app.get("/items")
    async def list_items(query: Annotated[ListQuery, Query()]) -> Page:
        matching = [
            item for item in catalogue if query.category is None or item.category == query.category
        ]
        return Page(total=len(matching), items=matching[query.skip : query.skip + query.limit])

    @app.get("/items/{item_id}")
    async def get_item(item_id: Annotated[int, Path(ge=1)]) -> Item:
        try:
            return by_id[item_id]
        except KeyError:
            raise HTTPException(status_code=404, detail=f"Item {item_id} not found") from None

    return app


app = create_app(  # what `fastapi dev items_api.py` or `uvicorn items_api:app` serves
    [
        Item(id=1, name="Teapot", category="kitchen", price=25.0),
        Item(id=2, name="Kettle", category="kitchen", price=40.0),
        Item(id=3, name="Hammer", category="tools", price=15.5),
    ]
)
