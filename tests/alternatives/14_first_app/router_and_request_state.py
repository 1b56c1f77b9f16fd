"""Right answer: a module-level APIRouter whose endpoints find the store through request.app.state;
Annotated field rules; an id counter per app."""

import hashlib
import itertools
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, Field


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: Annotated[str, Field(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")]
    email: Annotated[str, Field(pattern=r"^[^\s@]+@[^\s@]+\.[^\s@]+$")]
    age: Annotated[int, Field(ge=13, le=130)]
    password: Annotated[str, Field(min_length=8)]
    tags: list[str] = Field(default_factory=list)


class UserOut(BaseModel):
    """A user as the API sends it: never the password, never its hash."""

    id: int
    username: str
    email: str
    age: int
    tags: list[str]


class UserInDB(UserOut):
    """A user as the app stores it: a UserOut plus the password's hash."""

    password_hash: str


class NewTag(BaseModel):
    """The JSON body of POST /users/{user_id}/tags."""

    tag: str


router = APIRouter(prefix="/users")


def lookup(request: Request, user_id: int) -> UserInDB:
    users: dict[int, UserInDB] = request.app.state.users
    try:
        return users[user_id]
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no user with id {user_id}") from None


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def create_user(request: Request, user: UserCreate) -> UserInDB:
    """Store a new user and return it with status 201."""
    user_id = next(request.app.state.ids)
    data = user.model_dump()
    stored = UserInDB(id=user_id, password_hash=hash_password(data.pop("password")), **data)
    request.app.state.users[user_id] = stored
    return stored


@router.get("", response_model=list[UserOut])
async def list_users(request: Request) -> list[UserInDB]:
    """Every user of this app, in the order they were created."""
    return [request.app.state.users[key] for key in sorted(request.app.state.users)]


@router.get("/{user_id}", response_model=UserOut)
async def get_user(request: Request, user_id: int) -> UserInDB:
    """The user with this id; 404 with a "detail" message if there is none."""
    return lookup(request, user_id)


@router.post("/{user_id}/tags", response_model=UserOut)
async def add_tag(request: Request, user_id: int, new_tag: NewTag) -> UserInDB:
    """Add new_tag.tag at the end of this user's tags; return the user (status 200)."""
    user = lookup(request, user_id)
    user.tags = [*user.tags, new_tag.tag]
    return user


def create_app() -> FastAPI:
    """Build a new app with a user store of its own."""
    app = FastAPI(title="Users")
    app.state.users = {}
    app.state.ids = itertools.count(1)
    app.include_router(router)
    return app


app = create_app()
