"""Right answer (blind review): the older `= Query(default, ...)` / `Path(...)` spelling, with gt=0
for the lower bounds and a tuple catalogue."""

from collections.abc import Sequence

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
    """Build an app that serves `items` (a list or tuple, ids unique, in any order)."""
    app = FastAPI(title="Items")
    catalogue = tuple(sorted(items, key=lambda item: item.id))

    @app.get("/items", response_model=Page)
    async def list_items(
        skip: int = Query(0, ge=0),
        limit: int = Query(10, gt=0, le=100),
        category: str | None = Query(None),
    ):
        if category is not None:
            matching = tuple(item for item in catalogue if item.category == category)
        else:
            matching = catalogue
        return {"total": len(matching), "items": list(matching[skip : skip + limit])}

    @app.get("/items/{item_id}", response_model=Item)
    async def get_item(item_id: int = Path(..., gt=0)):
        for item in catalogue:
            if item.id == item_id:
                return item
        raise HTTPException(status_code=404, detail=f"Item {item_id} not found")

    return app


app = create_app(  # what `fastapi dev items_api.py` or `uvicorn items_api:app` serves
    [
        Item(id=1, name="Teapot", category="kitchen", price=25.0),
        Item(id=2, name="Kettle", category="kitchen", price=40.0),
        Item(id=3, name="Hammer", category="tools", price=15.5),
    ]
)
