"""Right answer (blind review): an APIRouter built per app, Annotated/StringConstraints rules,
return annotations and a store dependency that raises 404."""

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, Field, StringConstraints


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


Username = Annotated[
    str, StringConstraints(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: Username
    email: Email
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


def get_store(request: Request) -> dict[int, UserInDB]:
    return request.app.state.users


Store = Annotated[dict[int, UserInDB], Depends(get_store)]


def get_existing_user(user_id: int, store: Store) -> UserInDB:
    user = store.get(user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"User {user_id} not found")
    return user


ExistingUser = Annotated[UserInDB, Depends(get_existing_user)]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/users", tags=["users"])

    @router.post("", status_code=status.HTTP_201_CREATED)
    async def create_user(user: UserCreate, store: Store) -> UserOut:
        user_id = len(store) + 1
        stored = UserInDB(
            id=user_id,
            password_hash=hash_password(user.password),
            **user.model_dump(exclude={"password"}),
        )
        store[user_id] = stored
        return stored

    @router.get("", response_model=list[UserOut])
    async def list_users(store: Store) -> list[UserInDB]:
        return list(store.values())

    @router.get("/{user_id}")
    async def get_user(user: ExistingUser) -> UserOut:
        return user

    @router.post("/{user_id}/tags")
    async def add_tag(user: ExistingUser, new_tag: NewTag) -> UserOut:
        user.tags.append(new_tag.tag)
        return user

    return router


def create_app() -> FastAPI:
    """Build a new app with a user store of its own."""
    app = FastAPI(title="Users")
    app.state.users = {}
    app.include_router(build_router())
    return app


app = create_app()  # what `fastapi dev users_api.py` or `uvicorn users_api:app` serves
