"""Mutant (blind review): Age and password are checked by hand in create_user and answered with 400
instead of 422 from the model."""

import hashlib

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, Field


def hash_password(password: str) -> str:
    """What to store instead of a password (given: a real app uses argon2 or bcrypt)."""
    return hashlib.sha256(f"asynckata:{password}".encode()).hexdigest()


class UserCreate(BaseModel):
    """The JSON body of POST /users."""

    username: str = Field(min_length=3, max_length=20, pattern=r"^[A-Za-z0-9_]+$")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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
    """Build a new app with a user store of its own."""
    app = FastAPI(title="Users")
    app.state.users = {}

    @app.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserOut)
    async def create_user(user: UserCreate):
        """Store a new user and return it with status 201."""
        if not 13 <= user.age <= 130:
            raise HTTPException(400, detail="age must be between 13 and 130")
        if len(user.password) < 8:
            raise HTTPException(400, detail="password too short")
        user_id = len(app.state.users) + 1
        stored = UserInDB(
            id=user_id,
            password_hash=hash_password(user.password),
            **user.model_dump(exclude={"password"}),
        )
        app.state.users[user_id] = stored
        return stored

    @app.get("/users", response_model=list[UserOut])
    async def list_users():
        """Every user of this app, in the order they were created."""
        return list(app.state.users.values())

    @app.get("/users/{user_id}", response_model=UserOut)
    async def get_user(user_id: int):
        """The user with this id; 404 with a "detail" message if there is none."""
        if user_id not in app.state.users:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No user {user_id}")
        return app.state.users[user_id]

    @app.post("/users/{user_id}/tags", response_model=UserOut)
    async def add_tag(user_id: int, new_tag: NewTag):
        """Add new_tag.tag at the end of this user's tags; return the user (status 200)."""
        if user_id not in app.state.users:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"No user {user_id}")
        app.state.users[user_id].tags.append(new_tag.tag)
        return app.state.users[user_id]

    return app


app = create_app()  # what `fastapi dev users_api.py` or `uvicorn users_api:app` serves
