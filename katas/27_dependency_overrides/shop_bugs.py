"""Broken copies of the shop: the grader runs your tests against each.

Try not to read this before your tests are written: a good test suite catches bugs it was
not written for. Each bug is one realistic mistake, described the way a bug report would.
"""

from collections.abc import Callable

from fastapi import FastAPI, HTTPException, status
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from shop_app import (
    CheckoutIn,
    CheckoutOut,
    GatewayDep,
    PaymentDeclined,
    RepositoryDep,
    create_app,
)

# A gateway made once at import, the way a module-level client sneaks into real code.
_GLOBAL_GATEWAY = None


class _UpTo11(BaseModel):
    customer: str = Field(min_length=1)
    product_id: int
    quantity: int = Field(ge=1, le=11)


def _broken_checkout(bug: str) -> FastAPI:
    app = create_app()

    model = _UpTo11 if bug == "quantity-11" else CheckoutIn

    async def checkout(body: model, repo: RepositoryDep, gateway: GatewayDep) -> CheckoutOut:  # type: ignore[valid-type]
        if bug == "global-gateway":
            from shop_app import get_gateway

            gateway = _GLOBAL_GATEWAY or get_gateway()
        product = await repo.get_product(body.product_id)
        if product is None and bug != "unknown-product":
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such product")
        assert product is not None, "no such product"  # the bug: a crash, not a 404
        amount = product.price * (1 if bug == "amount" else body.quantity)
        if bug == "charge-first":
            try:
                charge_id = await gateway.charge(body.customer, amount)
            except PaymentDeclined as declined:
                raise HTTPException(402, str(declined)) from None
        enough = (
            body.quantity < product.stock if bug == "last-item" else body.quantity <= product.stock
        )
        if not enough:
            raise HTTPException(status.HTTP_409_CONFLICT, "not enough stock")
        await repo.reserve(product.id, body.quantity)
        if bug != "charge-first":
            try:
                charge_id = await gateway.charge(body.customer, amount)
            except PaymentDeclined as declined:
                if bug != "no-release":
                    await repo.release(product.id, body.quantity)
                code = status.HTTP_400_BAD_REQUEST if bug == "declined-400" else 402
                raise HTTPException(code, str(declined)) from None
        quantity = 1 if bug == "saved-quantity" else body.quantity
        order_id = (
            0
            if bug == "not-saved"
            else await repo.save_order(body.customer, product.id, quantity, charge_id)
        )
        if bug == "fixed-order-id":
            order_id = 1
        if bug == "release-always":
            await repo.release(product.id, body.quantity)
        return CheckoutOut(order_id=order_id, charge_id=charge_id, amount=amount)

    app.router.routes[:] = [
        r for r in app.router.routes if not (isinstance(r, APIRoute) and r.path == "/checkout")
    ]
    app.add_api_route("/checkout", checkout, methods=["POST"], status_code=201)
    return app


def _builder(bug: str) -> Callable[[], FastAPI]:
    return lambda: _broken_checkout(bug)


# id -> (what the bug report says, how to build the broken app)
BUGS: dict[str, tuple[str, Callable[[], FastAPI]]] = {
    "charge-first": (
        "checkout charges the customer before it checks the stock, so an order that fails "
        "with 409 has still taken the money",
        _builder("charge-first"),
    ),
    "last-item": (
        "nobody can buy the last items in stock (quantity equal to the stock gets 409)",
        _builder("last-item"),
    ),
    "amount": ("the customer is charged the unit price, whatever the quantity", _builder("amount")),
    "no-release": (
        "when the payment is declined, the reserved stock is never released",
        _builder("no-release"),
    ),
    "declined-400": ("a declined payment answers 400, not 402", _builder("declined-400")),
    "not-saved": (
        "checkout answers 201 and charges the customer but never saves the order",
        _builder("not-saved"),
    ),
    "saved-quantity": (
        "the order is saved with a quantity of 1, whatever was bought",
        _builder("saved-quantity"),
    ),
    "release-always": (
        "after a successful payment the reserved stock is given back, so it never goes down",
        _builder("release-always"),
    ),
    "fixed-order-id": (
        "checkout answers order_id 1, whatever id the database gave the order",
        _builder("fixed-order-id"),
    ),
    "unknown-product": (
        "a checkout of a product that does not exist crashes instead of answering 404",
        _builder("unknown-product"),
    ),
    "quantity-11": ("checkout accepts a quantity of 11", _builder("quantity-11")),
    "global-gateway": (
        "checkout ignores the injected payment gateway and builds its own",
        _builder("global-gateway"),
    ),
}
