"""Right answer: the older `skip: int = Query(0, ge=0)` spelling, gt instead of ge, response_model
on the decorators, and a linear search for the item."""

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
    def list_items(
        category: str | None = Query(None),
        limit: int = Query(10, gt=0, le=100),
        skip: int = Query(0, gt=-1),
    ):
        """One page of the catalogue, sorted by id (smallest first)."""
        if category is not None:
            matching = [item for item in catalogue if item.category == category]
        else:
            matching = list(catalogue)
        return {"total": len(matching), "items": matching[skip:][:limit]}

    @app.get("/items/{item_id}", response_model=Item)
    def get_item(item_id: int = Path(gt=0)):
        """The item with this id."""
        for item in catalogue:
            if item.id == item_id:
                return item
        raise HTTPException(404, detail="Item " + str(item_id) + " not found")

    return app


app = create_app([Item(id=1, name="Teapot", category="kitchen", price=25.0)])
