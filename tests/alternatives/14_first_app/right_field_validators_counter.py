"""Right answer (blind review): rules checked by @field_validator with re.fullmatch (still 422),
ids from a per-app itertools.count."""

import hashlib
import itertools
import re

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


USERNAME_RE = re.compile(r"[A-Za-z0-9_]{3,20}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: str
    email: str
    age: int = Field(ge=13, le=130)
    password: str = Field(min_length=8)
    tags: list[str] = []

    @field_validator("username")
    @classmethod
    def check_username(cls, value: str) -> str:
        if not USERNAME_RE.fullmatch(value):
            raise ValueError("3 to 20 letters, digits or underscores")
        return value

    @field_validator("email")
    @classmethod
    def check_email(cls, value: str) -> str:
        if not EMAIL_RE.fullmatch(value):
            raise ValueError("not an email address")
        return value


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
    app.state.users = {}
    app.state.next_id = itertools.count(1)

    def find(user_id: int) -> UserInDB:
        try:
            return app.state.users[user_id]
        except KeyError:
            raise HTTPException(status_code=404, detail="User not found") from None

    @app.post("/users", status_code=201, response_model=UserOut)
    async def create_user(user: UserCreate):
        user_id = next(app.state.next_id)
        data = user.model_dump()
        password = data.pop("password")
        stored = UserInDB(id=user_id, password_hash=hash_password(password), **data)
        app.state.users[user_id] = stored
        return stored

    @app.get("/users", response_model=list[UserOut])
    async def list_users():
        return [app.state.users[key] for key in sorted(app.state.users)]

    @app.get("/users/{user_id}", response_model=UserOut)
    async def get_user(user_id: int):
        return find(user_id)

    @app.post("/users/{user_id}/tags", response_model=UserOut)
    async def add_tag(user_id: int, new_tag: NewTag):
        user = find(user_id)
        user.tags = [*user.tags, new_tag.tag]
        return user

    return app


app = create_app()  # what `fastapi dev users_api.py` or `uvicorn users_api:app` serves
