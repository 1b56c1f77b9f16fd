"""The app under test in kata 27. It works: your tests must pass against it.

(Read it, but don't edit it. The grader also runs your tests against broken copies.)

A shop's checkout. It depends on two things a test must not use for real:
- `get_repository`: the product database (in production, a connection to PostgreSQL);
- `get_gateway`: the payment provider (in production, an HTTP API that takes real money).
Both fail loudly in a test that forgets to replace them.

- `GET /products/{product_id}`: the product, or `404`.
- `POST /checkout` with `{"customer": ..., "product_id": ..., "quantity": 1..10}`:
  1. the product must exist (else `404`, nothing else happens);
  2. there must be enough stock: `quantity <= stock` (else `409`, nobody is charged);
  3. the stock is reserved (`reserve`), then the customer is charged `price * quantity`;
  4. if the payment is declined (`PaymentDeclined`), the reservation is released
     (`release`) and the answer is `402` with the decline's reason as `detail`;
  5. otherwise the order is saved (`save_order`) and the answer is `201` with
     `{"order_id": ..., "charge_id": ..., "amount": ...}`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Protocol

from fastapi import Depends, FastAPI, HTTPException, status
from pydantic import BaseModel, Field


class Product(BaseModel):
    id: int
    name: str
    price: int  # cents
    stock: int


class CheckoutIn(BaseModel):
    customer: str = Field(min_length=1)
    product_id: int
    quantity: int = Field(ge=1, le=10)


class CheckoutOut(BaseModel):
    order_id: int
    charge_id: str
    amount: int


class PaymentDeclined(Exception):
    """The payment provider said no; str(error) is the reason to show."""


class Repository(Protocol):
    """What the app needs from the database."""

    async def get_product(self, product_id: int) -> Product | None: ...
    async def reserve(self, product_id: int, quantity: int) -> None: ...
    async def release(self, product_id: int, quantity: int) -> None: ...
    async def save_order(
        self, customer: str, product_id: int, quantity: int, charge_id: str
    ) -> int: ...


class Gateway(Protocol):
    """What the app needs from the payment provider."""

    async def charge(self, customer: str, amount: int) -> str:
        """Takes `amount` cents from the customer; the charge's id, or PaymentDeclined."""
        ...


async def get_repository() -> AsyncIterator[Repository]:
    """The real database. Tests must override this dependency."""
    raise RuntimeError("no database in tests: override get_repository")
    yield  # pragma: no cover


def get_gateway() -> Gateway:
    """The real payment provider. Tests must override this dependency."""
    raise RuntimeError("no payments in tests: override get_gateway")


RepositoryDep = Annotated[Repository, Depends(get_repository)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/products/{product_id}")
    async def read_product(product_id: int, repo: RepositoryDep) -> Product:
        product = await repo.get_product(product_id)
        if product is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such product")
        return product

    @app.post("/checkout", status_code=status.HTTP_201_CREATED)
    async def checkout(body: CheckoutIn, repo: RepositoryDep, gateway: GatewayDep) -> CheckoutOut:
        product = await repo.get_product(body.product_id)
        if product is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such product")
        if body.quantity > product.stock:
            raise HTTPException(status.HTTP_409_CONFLICT, "not enough stock")
        await repo.reserve(product.id, body.quantity)
        amount = product.price * body.quantity
        try:
            charge_id = await gateway.charge(body.customer, amount)
        except PaymentDeclined as declined:
            await repo.release(product.id, body.quantity)
            raise HTTPException(status.HTTP_402_PAYMENT_REQUIRED, str(declined)) from None
        order_id = await repo.save_order(body.customer, product.id, body.quantity, charge_id)
        return CheckoutOut(order_id=order_id, charge_id=charge_id, amount=amount)

    return app


app = create_app()
