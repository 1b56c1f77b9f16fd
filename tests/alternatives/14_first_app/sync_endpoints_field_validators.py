"""Right answer: plain `def` endpoints (run in a thread pool), @field_validator for the username
and email rules, model_validate to build what is stored and sent."""

import hashlib
import re

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field, field_validator


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: str
    email: str
    age: int = Field(ge=13, le=130)
    password: str = Field(min_length=8)
    tags: list[str] = []

    @field_validator("username")
    @classmethod
    def username_rule(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_]{3,20}", value):
            raise ValueError("3 to 20 letters, digits or underscores")
        return value

    @field_validator("email")
    @classmethod
    def email_rule(cls, value: str) -> str:
        name, at, domain = value.partition("@")
        if not name or not at or "@" in domain or "." not in domain.strip("."):
            raise ValueError("an email address looks like name@domain.tld")
        if any(ch.isspace() for ch in value):
            raise ValueError("an email address has no spaces")
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

    def stored(user_id: int) -> UserInDB:
        user = app.state.users.get(user_id)
        if user is None:
            raise HTTPException(404, f"User {user_id} does not exist")
        return user

    @app.post("/users", status_code=201)
    def create_user(user: UserCreate) -> UserOut:
        """Store a new user and return it with status 201."""
        new_id = max(app.state.users, default=0) + 1
        fields = user.model_dump(exclude={"password"})
        record = UserInDB.model_validate(
            {**fields, "id": new_id, "password_hash": hash_password(user.password)}
        )
        app.state.users[new_id] = record
        return UserOut.model_validate(record.model_dump(exclude={"password_hash"}))

    @app.get("/users")
    def list_users() -> list[UserOut]:
        """Every user of this app, in the order they were created."""
        return [UserOut.model_validate(u.model_dump()) for u in app.state.users.values()]

    @app.get("/users/{user_id}")
    def get_user(user_id: int) -> UserOut:
        """The user with this id; 404 with a "detail" message if there is none."""
        return UserOut.model_validate(stored(user_id).model_dump())

    @app.post("/users/{user_id}/tags")
    def add_tag(user_id: int, new_tag: NewTag) -> UserOut:
        """Add new_tag.tag at the end of this user's tags; return the user (status 200)."""
        record = stored(user_id)
        app.state.users[user_id] = record.model_copy(update={"tags": [*record.tags, new_tag.tag]})
        return UserOut.model_validate(app.state.users[user_id].model_dump())

    return app


app = create_app()
