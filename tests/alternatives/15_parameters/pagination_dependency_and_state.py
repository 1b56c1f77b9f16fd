"""Right answer: a module-level APIRouter; the catalogue on request.app.state; skip and limit
come from a Pagination dependency (Depends) with Annotated Query bounds."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
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


@dataclass(frozen=True)
class Pagination:
    skip: int
    limit: int


def pagination(
    skip: Annotated[int, Query(ge=0, description="items to leave out")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="items per page")] = 10,
) -> Pagination:
    return Pagination(skip, limit)


router = APIRouter()


@router.get("/items", response_model=Page)
async def list_items(
    request: Request,
    page: Annotated[Pagination, Depends(pagination)],
    category: Annotated[str | None, Query(max_length=50)] = None,
) -> dict[str, object]:
    """One page of the catalogue, sorted by id (smallest first)."""
    catalogue: tuple[Item, ...] = request.app.state.catalogue
    matching = [item for item in catalogue if category is None or item.category == category]
    end = page.skip + page.limit
    return {"total": len(matching), "items": matching[page.skip : end]}


@router.get("/items/{item_id}", response_model=Item)
async def get_item(request: Request, item_id: Annotated[int, Path(ge=1)]) -> Item:
    """The item with this id."""
    item = request.app.state.by_id.get(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"Item {item_id} not found")
    return item


def create_app(items: Sequence[Item]) -> FastAPI:
    """Build an app that serves `items` (a list or tuple, ids unique, in any order)."""
    app = FastAPI(title="Items")
    app.state.catalogue = tuple(sorted(items, key=lambda item: item.id))
    app.state.by_id = {item.id: item for item in items}
    app.include_router(router)
    return app


app = create_app([Item(id=1, name="Teapot", category="kitchen", price=25.0)])
