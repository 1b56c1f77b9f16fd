"""Right answer (blind review): handlers convert to UserOut themselves (model_validate with
from_attributes) and declare -> UserOut."""

import hashlib

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: str = Field(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    age: int = Field(ge=13, le=130)
    password: str = Field(min_length=8)
    tags: list[str] = []


class UserOut(BaseModel):
    """A user as the API sends it: never the password, never its hash."""

    model_config = ConfigDict(from_attributes=True)

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


def to_out(user: UserInDB) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


def create_app() -> FastAPI:
    """Build a new app with a user store of its own."""
    app = FastAPI(title="Users")
    app.state.users = {}

    @app.post("/users", status_code=status.HTTP_201_CREATED)
    async def create_user(user: UserCreate) -> UserOut:
        users: dict[int, UserInDB] = app.state.users
        user_id = len(users) + 1
        users[user_id] = UserInDB(
            id=user_id,
            username=user.username,
            email=user.email,
            age=user.age,
            tags=list(user.tags),
            password_hash=hash_password(user.password),
        )
        return to_out(users[user_id])

    @app.get("/users")
    async def list_users() -> list[UserOut]:
        return [to_out(user) for user in app.state.users.values()]

    @app.get("/users/{user_id}")
    async def get_user(user_id: int) -> UserOut:
        user = app.state.users.get(user_id)
        if user is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No user with id {user_id}")
        return to_out(user)

    @app.post("/users/{user_id}/tags")
    async def add_tag(user_id: int, new_tag: NewTag) -> UserOut:
        user = app.state.users.get(user_id)
        if user is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No user with id {user_id}")
        user.tags.append(new_tag.tag)
        return to_out(user)

    return app


app = create_app()  # what `fastapi dev users_api.py` or `uvicorn users_api:app` serves
