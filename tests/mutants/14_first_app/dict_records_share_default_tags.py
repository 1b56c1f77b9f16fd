"""Mutant: stores plain dicts, and every user created without tags gets one DEFAULT_TAGS list."""

import hashlib
from typing import Any

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, Field

DEFAULT_TAGS: list[str] = []


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: str = Field(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    age: int = Field(ge=13, le=130)
    password: str = Field(min_length=8)
    tags: list[str] | None = None


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


def create_app() -> FastAPI:
    """Build a new app with a user store of its own."""
    app = FastAPI(title="Users")
    users: dict[int, dict[str, Any]] = {}
    app.state.users = users

    def find(user_id: int) -> dict[str, Any]:
        if user_id not in users:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"User {user_id} not found")
        return users[user_id]

    @app.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
    async def create_user(user: UserCreate) -> dict[str, Any]:
        """Store a new user and return it with status 201."""
        user_id = len(users) + 1
        users[user_id] = {
            "id": user_id,
            "username": user.username,
            "email": user.email,
            "age": user.age,
            "tags": user.tags or DEFAULT_TAGS,
            "password_hash": hash_password(user.password),
        }
        return users[user_id]

    @app.get("/users", response_model=list[UserOut])
    async def list_users() -> list[dict[str, Any]]:
        """Every user of this app, in the order they were created."""
        return list(users.values())

    @app.get("/users/{user_id}", response_model=UserOut)
    async def get_user(user_id: int) -> dict[str, Any]:
        """The user with this id; 404 with a "detail" message if there is none."""
        return find(user_id)

    @app.post("/users/{user_id}/tags", response_model=UserOut)
    async def add_tag(user_id: int, new_tag: NewTag) -> dict[str, Any]:
        """Add new_tag.tag at the end of this user's tags; return the user (status 200)."""
        user = find(user_id)
        user["tags"].append(new_tag.tag)
        return user

    return app


app = create_app()
