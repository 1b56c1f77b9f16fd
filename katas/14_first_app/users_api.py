"""Kata 14: a first FastAPI app with Pydantic v2 models. Read README.md, then fill in each TODO."""

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

    # TODO: put the rules into the fields with Field(...): min_length, max_length,
    # pattern (anchored with ^ and $), ge, le.
    username: str
    email: str
    age: int
    password: str
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
    # TODO: give this app its own empty store on app.state.users (nothing at module level).

    @app.post("/users")  # TODO: answer 201, and send a UserOut (never the hash)
    async def create_user(user: UserCreate):
        """Store a new user and return it with status 201.

        Its id is the next number: 1 for the first user of this app, then 2, 3, ...
        Every call creates a new user, even with the same data as an earlier one.
        Store hash_password(user.password) as its password_hash, never the password.
        """
        # TODO: build a UserInDB from user.model_dump(...) plus the id and the hash.
        raise NotImplementedError("create_user")

    @app.get("/users")  # TODO: a response model for a list of users
    async def list_users():
        """Every user of this app, in the order they were created."""
        # TODO: the stored users, as a list.
        raise NotImplementedError("list_users")

    @app.get("/users/{user_id}")  # TODO: a response model
    async def get_user(user_id: int):
        """The user with this id; 404 with a "detail" message if there is none."""
        # TODO: HTTPException with status 404 when the id is not in the store.
        raise NotImplementedError("get_user")

    @app.post("/users/{user_id}/tags")  # TODO: a response model
    async def add_tag(user_id: int, new_tag: NewTag):
        """Add new_tag.tag at the end of this user's tags; return the user (status 200).

        Only this user's tags change. 404 with a "detail" message if there is no such user.
        """
        # TODO: 404 if missing; otherwise append to this user's own list of tags.
        raise NotImplementedError("add_tag")

    return app


app = create_app()  # what `fastapi dev users_api.py` or `uvicorn users_api:app` serves
