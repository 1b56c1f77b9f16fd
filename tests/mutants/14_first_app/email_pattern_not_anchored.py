"""Mutant: the email pattern has no ^ and $, so a trailing ' and more' passes."""

import hashlib

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, Field


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


class UserCreate(BaseModel):
    """The JSON body of POST /users.

    The rules (both ends of every range are allowed):
    - username: 3 to 20 characters, each a letter (a-z, A-Z), a digit or "_";
    - email: looks like name@domain.tld: exactly one "@", at least one "." somewhere
      after it, no spaces;
    - age: a whole number from 13 to 130;
    - password: at least 8 characters;
    - tags: a list of strings; no tags when the client leaves it out.
    A body that breaks a rule must never reach create_user: FastAPI answers 422 itself.
    """

    username: str = Field(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")
    email: str = Field(pattern=r"[^@\s]+@[^@\s]+\.[^@\s]+")
    age: int = Field(ge=13, le=130)
    password: str = Field(min_length=8)
    tags: list[str] = []


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
    """Build a new app with a user store of its own.

    Keep this app's users in `app.state.users`: a dict from id to UserInDB, empty when
    the app is built. Each app counts its ids from 1, and two apps never share users or
    anything else: the tests build a new app for every test.
    """
    app = FastAPI(title="Users")
    users: dict[int, UserInDB] = {}
    app.state.users = users

    def find(user_id: int) -> UserInDB:
        if user_id not in users:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"User {user_id} not found")
        return users[user_id]

    @app.post("/users", status_code=status.HTTP_201_CREATED)
    async def create_user(user: UserCreate) -> UserOut:
        """Store a new user and return it with status 201.

        Its id is the next number: 1 for the first user of this app, then 2, 3, ...
        Every call creates a new user, even with the same data as an earlier one.
        Store hash_password(user.password) as its password_hash, never the password.
        """
        user_id = len(users) + 1
        stored = UserInDB(
            id=user_id,
            password_hash=hash_password(user.password),
            **user.model_dump(exclude={"password"}),
        )
        users[user_id] = stored
        return stored

    @app.get("/users")
    async def list_users() -> list[UserOut]:
        """Every user of this app, in the order they were created."""
        return list(users.values())

    @app.get("/users/{user_id}")
    async def get_user(user_id: int) -> UserOut:
        """The user with this id; 404 with a "detail" message if there is none."""
        return find(user_id)

    @app.post("/users/{user_id}/tags")
    async def add_tag(user_id: int, new_tag: NewTag) -> UserOut:
        """Add new_tag.tag at the end of this user's tags; return the user (status 200).

        Only this user's tags change. 404 with a "detail" message if there is no such user.
        """
        user = find(user_id)
        user.tags.append(new_tag.tag)
        return user

    return app


app = create_app()  # what `fastapi dev users_api.py` or `uvicorn users_api:app` serves
