"""Kata 14 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import re
import sysconfig
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import Any

import httpx
import pytest
from users_api import create_app, hash_password

Deadline = Callable[[float, str], AbstractAsyncContextManager[None]]

# Real time, not virtual: a plain `def` endpoint runs in a worker thread, which virtual
# time can't wait for. A request takes milliseconds; one still running after
# REQUEST_SECONDS is stuck.
pytestmark = pytest.mark.looptime(False)
REQUEST_SECONDS = 2


class Api:
    """Sends requests to one app, in-process, each under a deadline."""

    def __init__(self, client: httpx.AsyncClient, deadline: Deadline) -> None:
        self._client = client
        self._deadline = deadline
        self.created = 0  # users this app has created so far

    async def request(
        self, method: str, url: str, body: Any = None, *, missing: bool = False
    ) -> httpx.Response:
        """Send one request. `missing=True`: it asks for a user that does not exist."""
        crash = None
        async with self._deadline(REQUEST_SECONDS, f"{method} {url}"):
            try:
                response = await self._client.request(method, url, json=body)
                if (method, url, response.status_code) == ("POST", "/users", 201):
                    self.created += 1
                return response
            except LookupError as exc:  # KeyError, IndexError: only when `missing`
                if not missing:
                    raise exc.with_traceback(your_frames(exc.__traceback__)) from None
                crash = exc
            except Exception as exc:  # the app's own error, raised again as it is
                raise exc.with_traceback(your_frames(exc.__traceback__)) from None
        pytest.fail(
            f"{method} {url} asks for a user that does not exist, and your endpoint raised "
            f"{crash!r}. A real server turns that into 500 Internal Server Error. Check "
            "whether the id is in the store and raise HTTPException with status 404 and a "
            "detail message."
        )

    async def create(self, body: dict[str, Any], why: str = "") -> dict[str, Any]:
        """POST /users with a valid body; return the new user, after checking the basics."""
        response = await self.request("POST", "/users", body)
        if response.status_code == 422:
            places = [error.get("loc") for error in detail_list(response)]
            pytest.fail(
                f"POST /users refused a valid body with 422; the errors point at {places}. "
                f"The body was {body}. "
                + (why or "Every value in it keeps the rules")
                + ": compare the rules you declared with the ones in UserCreate's docstring "
                "(both ends of each range are allowed, and tags may be left out)."
            )
        check_no_secrets(response, "POST /users")
        if response.status_code == 200:
            pytest.fail(
                "POST /users created a user and answered 200 OK. A create answers 201 "
                "Created: give the decorator status_code=201 (status.HTTP_201_CREATED)."
            )
        assert response.status_code == 201, (
            f"POST /users with a valid body {body} answered {response.status_code}: "
            f"{response.text}. It should create the user and answer 201."
        )
        created = response.json()
        got = created.get("id") if isinstance(created, dict) else None
        if got != self.created and isinstance(got, int) and got > self.created:
            pytest.fail(
                f"This app has created {self.created} user(s), and the newest got the id "
                f"{got}; expected {self.created}. Each app counts its ids from 1. Is your "
                "store, or your id counter, kept at module level and shared by every app? "
                "Make it inside create_app()."
            )
        assert got == self.created, (
            f"This app has created {self.created} user(s), and the newest got the id "
            f"{got!r}; expected {self.created}. Ids count 1, 2, 3, ... in each app, and "
            "every create makes a new user, even with the same data as an earlier one."
        )
        return created

    async def get_json(self, url: str) -> Any:
        response = await self.request("GET", url)
        check_no_secrets(response, f"GET {url}")
        assert response.status_code == 200, (
            f"GET {url} answered {response.status_code}: {response.text}; expected 200."
        )
        return response.json()


_LIBRARIES = tuple({sysconfig.get_path(name) for name in ("stdlib", "purelib", "platlib")})


def your_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback of an error raised in the app, without the frames inside httpx,
    Starlette and FastAPI (dozens of them): the report shows the tests and your code."""
    kept = []
    tb = tb.tb_next if tb is not None else None  # this frame is added again by `raise`
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_LIBRARIES):
            kept.append(tb)
        tb = tb.tb_next
    trimmed = None
    for entry in reversed(kept):
        trimmed = TracebackType(trimmed, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return trimmed


@asynccontextmanager
async def connect(app: Any, deadline: Deadline) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, deadline)


def new_user(n: int, **changes: Any) -> dict[str, Any]:
    """A valid body for POST /users; every n gives other values, password included."""
    body = {
        "username": f"user_{n}",
        "email": f"user{n}@example.com",
        "age": 20 + n % 60,
        "password": f"secret-password-{n}",
        "tags": [f"team{n % 3}"],
    }
    body.update(changes)
    return body


def shown(body: dict[str, Any], user_id: int) -> dict[str, Any]:
    """What the API should send back for `body` once it has `user_id`: no password."""
    fields = ("username", "email", "age")
    return {"id": user_id, **{k: body[k] for k in fields}, "tags": list(body.get("tags", []))}


SECRETS: list[str] = []  # every password the tests sent, and its hash


def remember(password: str) -> None:
    SECRETS.extend([password, hash_password(password)])


def check_no_secrets(response: httpx.Response, what: str) -> None:
    """Fail if the response gives away a password, its hash, or a field named for them."""
    leaks = [f"the field {key!r}" for key in field_names(body_of(response))]
    leaks = [leak for leak in leaks if "password" in leak.lower() or "hash" in leak.lower()]
    text = response.text
    if any(secret in text for secret in SECRETS):
        leaks.append("a password, or its hash, as a value")
    if leaks:
        pytest.fail(
            f"The response to {what} gives away {leaks[0]}: {text[:300]}. No response may "
            "ever contain the password or its hash. What you store is a UserInDB; what you "
            "send must be a UserOut: declare the response model on every endpoint "
            "(response_model=UserOut, or the return annotation -> UserOut; list[UserOut] "
            "for GET /users), and FastAPI sends only its fields."
        )


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def detail_list(response: httpx.Response) -> list[dict[str, Any]]:
    body = body_of(response)
    detail = body.get("detail") if isinstance(body, dict) else None
    return [e for e in detail if isinstance(e, dict)] if isinstance(detail, list) else []


def field_names(value: Any) -> list[str]:
    """Every key of every JSON object inside `value`."""
    if isinstance(value, dict):
        return [*value, *(name for inner in value.values() for name in field_names(inner))]
    if isinstance(value, list):
        return [name for inner in value for name in field_names(inner)]
    return []


def check_user(got: Any, expected: dict[str, Any], what: str) -> None:
    assert got == expected, (
        f"{what} gave {got!r}; expected {expected!r}: the user's id, username, email, age "
        "and tags, and nothing else."
    )


def check_rejected(response: httpx.Response, field: str, value: Any, rule: str) -> None:
    """Fail unless FastAPI's own 422 body names the body field `field`."""
    what = f"POST /users with {field}={value!r}"
    status = response.status_code
    if status in (200, 201):
        not_allowed = {"username": r"[^A-Za-z0-9_]", "email": r"\s|@.*@"}.get(field)
        anchors = (
            " If you used a `pattern`: it is searched for anywhere in the value, so anchor "
            "it with ^ and $ to make the whole value match."
            if not_allowed and isinstance(value, str) and re.search(not_allowed, value)
            else ""
        )
        if isinstance(value, str) and not value.isascii() and field == "username":
            anchors = (
                " Only a-z, A-Z, 0-9 and _ are allowed, but `\\w` (and str.isalnum()) "
                "also accept letters such as é or Ł: spell the characters out, [A-Za-z0-9_]."
            )
        pytest.fail(
            f"{what} was accepted ({status}), but the rule is: {rule}. Put the rule in "
            f"UserCreate with Field(...), and FastAPI rejects the body before your code "
            f"runs.{anchors}"
        )
    if status == 400 or (status != 422 and status < 500):
        pytest.fail(
            f"{what} answered {status}: {response.text[:200]}. A body that breaks a rule "
            "gets 422, with FastAPI's own error body. Don't check it by hand: put the rule "
            "in UserCreate with Field(...), and FastAPI answers before your code runs."
        )
    assert status == 422, f"{what} answered {status}: {response.text[:200]}; expected 422."
    detail = body_of(response)
    detail = detail.get("detail") if isinstance(detail, dict) else None
    assert isinstance(detail, list) and all(
        isinstance(error, dict) and "loc" in error and "type" in error for error in detail
    ), (
        f"{what} answered 422 with {response.text[:200]}. It should be FastAPI's own "
        'validation body, {"detail": [{"type": ..., "loc": ["body", "..."], "msg": ...}]}, '
        "which a client can read: let the model's Field(...) rules reject the body."
    )
    places = [error["loc"] for error in detail]
    assert ["body", field] in places, (
        f"{what} answered 422, but its errors point at {places}; one should point at "
        f'["body", "{field}"]: the rule that was broken is {rule}.'
    )


async def check_only(api: Api, bodies: list[dict[str, Any]], what: str) -> None:
    """Fail unless the app holds exactly these users, with ids 1, 2, ..."""
    users = await api.get_json("/users")
    expected = [shown(body, n) for n, body in enumerate(bodies, start=1)]
    assert users == expected, (
        f"After {what}, GET /users gave {users!r}; expected only {expected!r}. A body "
        "that breaks a rule must not create a user, and must not use up an id."
    )


@pytest.fixture(autouse=True)
def _forget_secrets() -> None:
    SECRETS.clear()


async def test_create_user_answers_201_with_the_new_user(deadline: Deadline) -> None:
    body = new_user(1, tags=["math", "engines"])
    remember(body["password"])
    async with connect(create_app(), deadline) as api:
        created = await api.create(body)
        check_user(created, shown(body, 1), "POST /users (the first user of a new app)")
        second = new_user(2, tags=[])
        remember(second["password"])
        check_user(await api.create(second), shown(second, 2), "POST /users (the second)")


async def test_no_response_ever_contains_the_password_or_its_hash(deadline: Deadline) -> None:
    bodies = [new_user(n) for n in range(1, 4)]
    for body in bodies:
        remember(body["password"])
    async with connect(create_app(), deadline) as api:
        for body in bodies:
            await api.create(body)  # checks the response to POST /users
        for user_id in (1, 2, 3):
            await api.get_json(f"/users/{user_id}")  # checks GET /users/{id}
        await api.get_json("/users")  # checks GET /users, the list
        response = await api.request("POST", "/users/2/tags", {"tag": "admin"})
        check_no_secrets(response, "POST /users/2/tags")
        assert response.status_code == 200, (
            f"POST /users/2/tags answered {response.status_code}: {response.text[:200]}; "
            "expected 200 and the user."
        )


async def test_every_create_makes_a_new_user_with_the_next_id(deadline: Deadline) -> None:
    body = new_user(7)  # the same body three times: three users, ids 1, 2 and 3
    remember(body["password"])
    async with connect(create_app(), deadline) as api:
        ids = [(await api.create(body)).get("id") for _ in range(3)]
        assert ids == [1, 2, 3], (
            f"Three POST /users gave the ids {ids}; expected [1, 2, 3]. Every create makes "
            "a new user, even with the same data, and ids count 1, 2, 3, ... in each app."
        )
        changed = await api.request("POST", "/users/3/tags", {"tag": "third"})
        assert changed.status_code == 200, (
            f"POST /users/3/tags answered {changed.status_code}: {changed.text[:200]}"
        )
        for user_id in (1, 2, 3):
            got = await api.get_json(f"/users/{user_id}")
            expected = shown(body, user_id)
            if user_id == 3:
                expected["tags"].append("third")
            check_user(got, expected, f"GET /users/{user_id}")


async def test_list_users_gives_every_user_in_creation_order(deadline: Deadline) -> None:
    # 30 users, more than any page size a first version might hard-code.
    bodies = [new_user(n, username=f"u{(n * 7) % 30:02d}_{n}") for n in range(1, 31)]
    for body in bodies:
        remember(body["password"])
    async with connect(create_app(), deadline) as api:
        empty = await api.get_json("/users")
        assert empty == [], f"GET /users on a new app gave {empty!r}; expected []."
        for body in bodies:
            await api.create(body)
        users = await api.get_json("/users")
    assert isinstance(users, list), f"GET /users gave {users!r}; expected a JSON list."
    expected = [shown(body, n) for n, body in enumerate(bodies, start=1)]
    assert len(users) == 30, f"GET /users gave {len(users)} users after 30 were created."
    assert users == expected, (
        "GET /users should give all 30 users, in the order they were created (ids 1 to "
        f"30), each with id, username, email, age and tags. It began {users[:2]!r}; "
        f"expected {expected[:2]!r}."
    )


async def test_a_missing_user_is_404(deadline: Deadline) -> None:
    remember(new_user(1)["password"])
    async with connect(create_app(), deadline) as api:
        for method, url, body in [
            ("GET", "/users/1", None),  # a new app has no users yet
            ("POST", "/users", new_user(1)),
            ("GET", "/users/2", None),
            ("GET", "/users/999", None),
            ("GET", "/users/0", None),
            ("POST", "/users/2/tags", {"tag": "admin"}),
        ]:
            if method == "POST" and url == "/users":
                await api.create(body)
                continue
            response = await api.request(method, url, body, missing=True)
            assert response.status_code == 404, (
                f"{method} {url} asks for a user that does not exist, and answered "
                f"{response.status_code}: {response.text[:200]}. Answer 404: raise "
                "HTTPException(status_code=404, detail=...)"
                + (", not a 200 with null." if response.status_code == 200 else ".")
            )
            detail = body_of(response)
            assert isinstance(detail, dict) and isinstance(detail.get("detail"), str), (
                f"{method} {url} answered 404 with {response.text[:200]}; the body should "
                'be {"detail": "<a message>"}, what HTTPException(404, detail=...) sends.'
            )
        users = await api.get_json("/users")
        assert len(users) == 1, (
            f"After one create and a tag for a missing user, GET /users gave {users!r}; "
            "expected the one user. A missing id must not create anything."
        )


async def test_add_tag_changes_only_that_user(deadline: Deadline) -> None:
    plain_one, plain_two = new_user(1), new_user(2)
    del plain_one["tags"], plain_two["tags"]  # both left out: no tags, each its own list
    tagged = new_user(3, tags=["ops"])
    for body in (plain_one, plain_two, tagged):
        remember(body["password"])
    async with connect(create_app(), deadline) as api:
        for body in (plain_one, plain_two, tagged):
            await api.create(body)
        response = await api.request("POST", "/users/1/tags", {"tag": "admin"})
        check_no_secrets(response, "POST /users/1/tags")
        if response.status_code == 201:
            pytest.fail(
                "POST /users/1/tags answered 201; it changes a user but creates nothing "
                "that has its own URL, so it answers 200 with the user."
            )
        assert response.status_code == 200, (
            f"POST /users/1/tags answered {response.status_code}: {response.text[:200]}"
        )
        check_user(
            response.json(),
            {**shown(plain_one, 1), "tags": ["admin"]},
            "POST /users/1/tags with tag 'admin'",
        )
        second = await api.get_json("/users/2")
        assert second.get("tags") == [], (
            f"'admin' was added to user 1 only, but user 2 now has the tags "
            f"{second.get('tags')!r}. Users 1 and 2 share one list of tags: a list used "
            "as a default outside a Pydantic model (a function's `tags=[]`, a module-level "
            "list) is one object. Give each user a list of its own."
        )
        await api.request("POST", "/users/3/tags", {"tag": "oncall"})
        fourth = new_user(4)
        del fourth["tags"]
        remember(fourth["password"])
        created = await api.create(fourth)
        assert created.get("tags") == [], (
            f"A new user created without tags, after tags were added to others, has the "
            f"tags {created.get('tags')!r}; expected []. The default is being shared and "
            "changed: each user needs a list of its own."
        )
        users = await api.get_json("/users")
    tags = [user.get("tags") for user in users]
    assert tags == [["admin"], [], ["ops", "oncall"], []], (
        f"After adding 'admin' to user 1 and 'oncall' to user 3, the users' tags are "
        f"{tags}; expected [['admin'], [], ['ops', 'oncall'], []]: a tag goes at the end "
        "of that one user's list, and is kept (GET /users shows it)."
    )


async def test_each_app_has_its_own_users(deadline: Deadline) -> None:
    first_app, second_app = create_app(), create_app()
    assert first_app is not second_app, "create_app() gave the same app twice; build a new one."
    bodies = [new_user(n) for n in range(1, 4)]
    for body in bodies:
        remember(body["password"])
    async with connect(first_app, deadline) as first, connect(second_app, deadline) as second:
        await first.create(bodies[0])
        await first.create(bodies[1])
        others = await second.get_json("/users")
        assert others == [], (
            f"Two users were created in one app, and a second, new app lists {others!r}. "
            "Each app has its own store, made inside create_app(): a dict at module "
            "level is shared by every app (and every test)."
        )
        created = await second.create(bodies[2])
        assert created.get("id") == 1, (
            f"The first user of a new app got the id {created.get('id')!r}; expected 1. "
            "Each app counts its own ids: keep the counter (or use the store's size) "
            "inside create_app(), not at module level."
        )
        missing = await second.request("GET", "/users/2", missing=True)
        assert missing.status_code == 404, (
            f"GET /users/2 on an app with just one user answered {missing.status_code}: "
            f"{missing.text[:200]}; expected 404. User 2 belongs to another app."
        )
        await check_only(first, bodies[:2], "a user was created in another app")


async def test_create_user_stores_the_hash_never_the_password(deadline: Deadline) -> None:
    body = new_user(5, password="correct horse battery")
    remember(body["password"])
    app = create_app()
    async with connect(app, deadline) as api:
        await api.create(body)
    try:
        store = app.state.users
    except AttributeError:
        pytest.fail(
            "create_app() should keep the app's users in app.state.users (a dict from id "
            "to UserInDB), but app.state has no `users`."
        )
    assert isinstance(store, dict) and list(store) == [1], (
        f"After one create, app.state.users is {store!r}; expected a dict with the key 1."
    )
    record = store[1]
    stored = record.model_dump() if hasattr(record, "model_dump") else record
    stored = stored if isinstance(stored, dict) else vars(stored)
    assert body["password"] not in [str(value) for value in stored.values()], (
        f"The app stores the password itself: {stored!r}. Store only its hash: "
        "password_hash=hash_password(user.password), never the password."
    )
    assert stored.get("password_hash") == hash_password(body["password"]), (
        f"The stored user is {stored!r}; its password_hash should be "
        "hash_password(<the password>), the function the file gives you."
    )


async def test_create_user_rejects_bad_usernames_with_422(deadline: Deadline) -> None:
    rule = 'username: 3 to 20 characters, each one of a-z, A-Z, 0-9 or "_"'
    first = new_user(1)
    remember(first["password"])
    async with connect(create_app(), deadline) as api:
        await api.create(first)
        for value in ["ab", "x" * 21, "", "ada lovelace", "ada-l", "ada!", "josé_99", 42]:
            response = await api.request("POST", "/users", new_user(2, username=value))
            check_rejected(response, "username", value, rule)
        response = await api.request("POST", "/users", new_user(2) | {"username": None})
        check_rejected(response, "username", None, rule)
        await check_only(api, [first], "rejected usernames")


async def test_create_user_rejects_bad_emails_with_422(deadline: Deadline) -> None:
    rule = 'email: name@domain.tld, one "@", a "." after it, no spaces'
    first = new_user(1)
    remember(first["password"])
    async with connect(create_app(), deadline) as api:
        await api.create(first)
        for value in [
            "ada.example.com",
            "ada@example",
            "ada@@example.com",
            "ada @example.com",
            "ada@example.com and more",
            "",
        ]:
            response = await api.request("POST", "/users", new_user(2, email=value))
            check_rejected(response, "email", value, rule)
        await check_only(api, [first], "rejected emails")


async def test_create_user_rejects_bad_ages_and_passwords_with_422(deadline: Deadline) -> None:
    first = new_user(1)
    remember(first["password"])
    async with connect(create_app(), deadline) as api:
        await api.create(first)
        for value in [12, 131, 0, -20, 1000, "old", 36.5]:
            response = await api.request("POST", "/users", new_user(2, age=value))
            check_rejected(response, "age", value, "age: a whole number from 13 to 130")
        for value in ["", "short", "1234567"]:
            response = await api.request("POST", "/users", new_user(2, password=value))
            check_rejected(response, "password", value, "password: at least 8 characters")
        incomplete = new_user(2)
        del incomplete["password"]
        response = await api.request("POST", "/users", incomplete)
        check_rejected(response, "password", "(left out)", "password is required")
        await check_only(api, [first], "rejected ages and passwords")


async def test_create_user_accepts_every_value_the_rules_allow(deadline: Deadline) -> None:
    edges = [
        ("username", "abc", "3 characters is long enough"),
        ("username", "A" * 20, "20 characters is not too long"),
        ("username", "Ada_Lovelace_1815", "letters, digits and _ are all allowed"),
        ("email", "a.b+c@mail.example.org", "any name@domain.tld is fine"),
        ("age", 13, "13 is allowed: ge=13, not gt=13"),
        ("age", 130, "130 is allowed: le=130, not lt=130"),
        ("password", "12345678", "8 characters is long enough"),
        ("tags", [], "no tags is fine"),
    ]
    async with connect(create_app(), deadline) as api:
        for user_id, (field, value, why) in enumerate(edges, start=1):
            body = new_user(user_id, **{field: value})
            remember(body["password"])
            created = await api.create(body, f"{field}={value!r} is allowed: {why}")
            check_user(created, shown(body, user_id), f"POST /users with {field}={value!r}")
        no_tags = new_user(len(edges) + 1)
        del no_tags["tags"]
        remember(no_tags["password"])
        created = await api.create(no_tags)
        assert created.get("tags") == [], (
            f"A user created with no tags field got the tags {created.get('tags')!r}; "
            "tags is optional, and left out it means []."
        )
