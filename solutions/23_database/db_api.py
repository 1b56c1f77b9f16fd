"""Kata 23: an async database. The reference solution."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import StaticPool

POOL_SIZE = 5  # at most this many connections at once (a file database)
DEFAULT_URL = "sqlite+aiosqlite:///bank.db"


# --- The tables (given): SQLAlchemy 2 style ---------------------------------------------


class Base(DeclarativeBase):
    """The base of every table. `Base.metadata` knows them all."""


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    balance: Mapped[int]  # in cents: money is never a float


class Transfer(Base):
    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int]


# --- What clients send and get back (given): Pydantic v2 --------------------------------


class AccountIn(BaseModel):
    owner: str = Field(min_length=1, max_length=100)
    balance: int = Field(default=0, ge=0)


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # can read an Account object

    id: int
    owner: str
    balance: int


class TransferIn(BaseModel):
    from_account_id: int
    to_account_id: int
    amount: int = Field(gt=0)


class TransferOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # can read a Transfer object

    id: int
    from_account_id: int
    to_account_id: int
    amount: int


# --- The engine and the sessions ---------------------------------------------------------


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's database, from startup to shutdown.

    Before the yield (startup):
    - create the engine with `create_async_engine(app.state.database_url, ...)`. A file
      database gets a pool of its own size: `pool_size=POOL_SIZE, max_overflow=0`. An
      in-memory database (the URL holds ":memory:") lives inside one connection, which
      every session must share: `poolclass=StaticPool`, and no pool_size;
    - create the tables: `Base.metadata.create_all`, through `conn.run_sync(...)` on a
      connection from `async with engine.begin() as conn:`;
    - keep the engine as `app.state.engine`, and `app.state.sessions`, an
      `async_sessionmaker` bound to it (with `expire_on_commit=False`).
    Once the engine exists, whatever happens next (a normal shutdown after the yield, the
    tables that cannot be created, the lifespan cancelled): `await engine.dispose()`, in
    a `finally`. It closes every connection of the pool.
    """
    url: str = app.state.database_url
    if ":memory:" in url:
        engine = create_async_engine(url, poolclass=StaticPool)
    else:
        engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        app.state.engine = engine
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        yield
    finally:
        await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A dependency with `yield`: the request's own AsyncSession, one transaction.

    Make a new session for every request from `request.app.state.sessions` (never one
    shared by several requests), and yield it. When the request succeeds, commit. When
    the endpoint raises (an HTTPException too), roll back and raise the error again. Close
    the session however the request ends, a cancel included.
    """
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function" (given): get_session's code after the yield runs as soon as the
# endpoint returns, before the response is sent. So the client gets its 201 only once
# the commit has succeeded.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

router = APIRouter()


# --- The endpoints -----------------------------------------------------------------------


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def create_account(data: AccountIn, session: SessionDep) -> Account:
    """A new account, answered with its id: 201 Created.

    Add an Account to the session and `await session.flush()`: the INSERT runs and the
    account gets its id. get_session commits it when the request is over.
    """
    account = Account(owner=data.owner, balance=data.balance)
    session.add(account)
    await session.flush()  # the INSERT runs now: the account has its id
    return account


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(session: SessionDep) -> list[Account]:
    """Every account, in id order: `select(...)`, then `await session.scalars(...)`."""
    accounts = await session.scalars(select(Account).order_by(Account.id))
    return list(accounts)


@router.get("/accounts/{account_id}", response_model=AccountOut)
async def read_account(account_id: int, session: SessionDep) -> Account:
    """One account (`await session.get(Account, account_id)`); 404 if there is none."""
    account = await session.get(Account, account_id)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Account {account_id} not found")
    return account


@router.post("/transfers", status_code=status.HTTP_201_CREATED, response_model=TransferOut)
async def create_transfer(data: TransferIn, session: SessionDep) -> Transfer:
    """Move `amount` from one account to the other: 201, with the new Transfer row.

    In the request's session, one transaction: take the amount off the source account,
    add it to the target account, and insert a Transfer row (flush it to get its id).
    - Either account does not exist: 404.
    - The source account would go below 0: 409 Conflict. (Down to exactly 0 is fine.)
    Whatever you wrote before such an error is undone by get_session's rollback. Let the
    database do the arithmetic, as README.md shows, and no two transfers at the same time
    can both spend the same money.
    """
    left = await session.scalar(  # one atomic UPDATE: balance = balance - amount
        update(Account)
        .where(Account.id == data.from_account_id)
        .values(balance=Account.balance - data.amount)
        .returning(Account.balance)
    )
    if left is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"Account {data.from_account_id} not found"
        )
    credited = await session.scalar(
        update(Account)
        .where(Account.id == data.to_account_id)
        .values(balance=Account.balance + data.amount)
        .returning(Account.id)
    )
    if credited is None:  # the debit above is written already: the rollback undoes it
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"Account {data.to_account_id} not found"
        )
    if left < 0:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="Insufficient funds")
    transfer = Transfer(
        from_account_id=data.from_account_id,
        to_account_id=data.to_account_id,
        amount=data.amount,
    )
    session.add(transfer)
    await session.flush()  # the INSERT runs now: the transfer has its id
    return transfer


# --- The app (given) ---------------------------------------------------------------------


def create_app(database_url: str = DEFAULT_URL) -> FastAPI:
    """A bank on `database_url`; its lifespan makes the engine at startup."""
    app = FastAPI(title="Bank", lifespan=lifespan)
    app.state.database_url = database_url
    app.include_router(router)
    return app


app = create_app()  # `uvicorn db_api:app` serves ./bank.db
