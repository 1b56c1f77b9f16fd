"""Right answer (blind review): an APIRouter made inside create_app and a class-based Pagination
dependency, paging with itertools.islice."""

from collections.abc import Sequence
from itertools import islice
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query
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


class Pagination:
    def __init__(
        self,
        skip: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> None:
        self.skip = skip
        self.limit = limit

    def page(self, matching: list[Item]) -> list[Item]:
        return list(islice(matching, self.skip, self.skip + self.limit))


def create_app(items: Sequence[Item]) -> FastAPI:
    """Build an app that serves `items` (a list or tuple, ids unique, in any order)."""
    app = FastAPI(title="Items")
    router = APIRouter(prefix="/items")
    catalogue = sorted(items, key=lambda item: item.id)
    by_id = {item.id: item for item in catalogue}

    @router.get("", response_model=Page)
    async def list_items(
        pagination: Annotated[Pagination, Depends()],
        category: Annotated[str | None, Query()] = None,
    ):
        matching = [item for item in catalogue if category is None or item.category == category]
        return Page(total=len(matching), items=pagination.page(matching))

    @router.get("/{item_id}", response_model=Item)
    async def get_item(item_id: Annotated[int, Path(ge=1)]):
        item = by_id.get(item_id)
        if item is None:
            raise HTTPException(status_code=404, detail=f"Item {item_id} not found")
        return item

    app.include_router(router)
    return app


app = create_app(  # what `fastapi dev items_api.py` or `uvicorn items_api:app` serves
    [
        Item(id=1, name="Teapot", category="kitchen", price=25.0),
        Item(id=2, name="Kettle", category="kitchen", price=40.0),
        Item(id=3, name="Hammer", category="tools", price=15.5),
    ]
)
