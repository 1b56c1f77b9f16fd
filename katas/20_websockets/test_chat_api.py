"""Kata 20 tests: they are the spec. Read them, but don't edit them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from chat_api import Room, create_app, get_room
from fastapi import FastAPI, WebSocketDisconnect
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

# What Starlette raises when a server sends to a connection that has already closed.
SEND_AFTER_CLOSE = RuntimeError('Cannot call "send" once a close message has been sent.')


class Server:
    """The app, reached over in-process WebSockets (httpx-ws, on this test's event loop).

    An error raised inside your endpoint would only reach a client as "closed: internal
    error"; this wrapper keeps it, so the test shows your error itself.
    """

    def __init__(self) -> None:
        self.app: FastAPI = create_app()
        self.errors: list[Exception] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.errors.append(exc)
            raise

    def raise_error(self) -> None:
        if self.errors:
            error = self.errors[0]
            raise error.with_traceback(error.__traceback__)

    @asynccontextmanager
    async def connect(self, path: str) -> AsyncIterator[AsyncWebSocketSession]:
        transport = ASGIWebSocketTransport(self)
        try:
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://test") as client,
                aconnect_ws(path, client) as ws,
            ):
                yield ws
        except BaseException:
            self.raise_error()  # your endpoint's error, if that is what ended it
            raise
        self.raise_error()

    def room(self, name: str) -> Room:
        return get_room(self.app, name)


class FakeSocket:
    """Stands in for a WebSocket in a Room: records what it was sent, or fails to send."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.accepted = False
        self.sent: list[str] = []
        self.fail = fail

    async def accept(self, *args: Any, **kwargs: Any) -> None:
        self.accepted = True

    async def send_text(self, text: str) -> None:
        await asyncio.sleep(0)  # a real send awaits too
        if self.fail is not None:
            raise self.fail
        self.sent.append(text)


async def nothing_arrives(ws: AsyncWebSocketSession, who: str, seconds: float = 1.0) -> None:
    try:
        text = await ws.receive_text(timeout=seconds)
    except TimeoutError:
        return
    pytest.fail(f"{who} received {text!r}, but nothing should have reached them.")


async def receive(ws: AsyncWebSocketSession, who: str, expected: str) -> None:
    text = await ws.receive_text()
    assert text == expected, f"{who} received {text!r}; expected {expected!r}."


async def test_echo_sends_every_message_back(looptime, deadline) -> None:
    server = Server()
    messages = ["hi", "", "héllo ✓ 👋", "x" * 5000, *(f"message {i}" for i in range(30))]
    async with deadline(60, "the echo endpoint"), server.connect("/ws/echo") as ws:
        for text in messages:
            await ws.send_text(text)
            got = await ws.receive_text()
            assert got == text, f"Sent {text[:40]!r} to /ws/echo and got {got[:40]!r} back."
        await asyncio.sleep(2.5)  # a quiet spell: the connection must stay open
        await ws.send_text("still there?")
        await receive(ws, "The client", "still there?")
    assert looptime == 2.5, (
        f"The echo session took {float(looptime)} s of event-loop time; only the client's "
        "own 2.5 s pause should count. Does the endpoint sleep or block?"
    )


async def test_echo_keeps_each_connection_separate(deadline) -> None:
    server = Server()
    async with (
        deadline(60, "two echo connections"),
        server.connect("/ws/echo") as first,
        server.connect("/ws/echo") as second,
    ):
        await first.send_text("one")
        await second.send_text("two")
        await receive(second, "The second client", "two")
        await receive(first, "The first client", "one")
        await nothing_arrives(first, "The first client")


async def test_room_join_accepts_and_tells_everyone() -> None:
    room = Room()
    ada, bo = FakeSocket(), FakeSocket()
    await room.join(ada, "ada")  # type: ignore[arg-type]
    assert ada.accepted, "Room.join must accept the connection before sending to it."
    assert ada.sent == ["ada joined"], (
        f"After ada joined an empty room, she was sent {ada.sent}; expected ['ada joined']: "
        "everyone in the room, the new member too, hears who joined."
    )
    await room.join(bo, "bo")  # type: ignore[arg-type]
    assert ada.sent == ["ada joined", "bo joined"] and bo.sent == ["bo joined"], (
        f"After bo joined, ada was sent {ada.sent} and bo {bo.sent}."
    )
    assert list(room.members.values()) == ["ada", "bo"], (
        f"room.members should map each connection to its name; it is {room.members}."
    )


async def test_room_leave_removes_once_and_returns_the_name() -> None:
    room = Room()
    ada, bo = FakeSocket(), FakeSocket()
    await room.join(ada, "ada")  # type: ignore[arg-type]
    await room.join(bo, "bo")  # type: ignore[arg-type]
    assert room.leave(bo) == "bo", "room.leave(bo) should return the name bo joined with."  # type: ignore[arg-type]
    assert room.leave(bo) is None, (  # type: ignore[arg-type]
        "Leaving twice must not fail: the second time, leave() returns None."
    )
    assert list(room.members.values()) == ["ada"], f"After bo left, members are {room.members}."
    await room.broadcast("ada: anyone?")
    assert bo.sent == ["bo joined"], "bo left, so the later broadcast must not reach bo."


async def test_broadcast_survives_members_whose_connection_failed() -> None:
    room = Room()
    ghost = FakeSocket(fail=SEND_AFTER_CLOSE)
    lost = FakeSocket(fail=WebSocketDisconnect(code=1006))
    room.members[ghost] = "ghost"  # type: ignore[index]  # their laptops closed
    await room.join(ada := FakeSocket(), "ada")  # type: ignore[arg-type]
    assert ada.sent == ["ada joined"], (
        f"A member whose connection had failed came first in the room, and ada, after it, "
        f"was sent {ada.sent} instead of ['ada joined']. A failed send to one member must "
        "not stop the loop: catch the error for that member and go on with the rest."
    )
    room.members[lost] = "lost"  # type: ignore[index]
    await room.join(bo := FakeSocket(), "bo")  # type: ignore[arg-type]
    assert ada.sent[-1] == bo.sent[-1] == "bo joined", (
        f"With a lost connection between them, ada got {ada.sent} and bo got {bo.sent}: "
        "everyone still reachable must get every message."
    )
    await room.broadcast("ada: hello")
    assert ada.sent[-1] == "ada: hello" and bo.sent[-1] == "ada: hello", (
        "A member whose connection had failed was in the room, and the broadcast did not "
        f"reach the others (ada got {ada.sent}, bo got {bo.sent}). A failed send to one "
        "member must not stop the loop: catch the error for that member and go on."
    )
    assert set(room.members.values()) == {"ada", "bo"}, (
        f"After failed sends, the room still holds {sorted(room.members.values())}. A "
        "member whose send failed is gone: take it out of the room."
    )


async def test_chat_relays_messages_to_the_whole_room(deadline) -> None:
    server = Server()
    async with deadline(60, "a chat between ada, bo and cy"):
        async with server.connect("/ws/rooms/lobby?name=ada") as ada:
            await receive(ada, "ada", "ada joined")
            async with server.connect("/ws/rooms/lobby?name=bo") as bo:
                await receive(bo, "bo", "bo joined")
                await receive(ada, "ada", "bo joined")
                async with server.connect("/ws/rooms/lobby?name=cy") as cy:
                    for ws, who in ((ada, "ada"), (bo, "bo"), (cy, "cy")):
                        await receive(ws, who, "cy joined")
                    for i in range(12):
                        await ada.send_text(f"note {i}")
                    await bo.send_text("hi all")
                    notes = [f"ada: note {i}" for i in range(12)]
                    for ws, who in ((ada, "ada"), (bo, "bo"), (cy, "cy")):
                        got = [await ws.receive_text() for _ in range(13)]
                        assert [t for t in got if t.startswith("ada: ")] == notes, (
                            f"{who} received ada's messages as {got}; expected all 12, in the "
                            "order ada sent them."
                        )
                        assert "bo: hi all" in got, f"{who} never received bo's message: {got}."


async def test_rooms_are_separate(deadline) -> None:
    server = Server()
    async with (
        deadline(60, "two rooms"),
        server.connect("/ws/rooms/lobby?name=ada") as ada,
        server.connect("/ws/rooms/kitchen?name=zed") as zed,
    ):
        await receive(ada, "ada", "ada joined")
        await receive(zed, "zed", "zed joined")
        await ada.send_text("lobby only")
        await receive(ada, "ada", "ada: lobby only")
        await nothing_arrives(zed, "zed, in another room,")
        assert list(server.room("kitchen").members.values()) == ["zed"]
        other = Server()  # another app: its lobby is not this one
        async with other.connect("/ws/rooms/lobby?name=eve") as eve:
            await receive(eve, "eve", "eve joined")
            await ada.send_text("still the lobby")
            await receive(ada, "ada", "ada: still the lobby")
            await nothing_arrives(eve, "eve, in another app's lobby,")


async def test_chat_says_who_left_and_forgets_them(deadline) -> None:
    server = Server()
    async with (
        deadline(60, "bo leaving the lobby"),
        server.connect("/ws/rooms/lobby?name=ada") as ada,
    ):
        await receive(ada, "ada", "ada joined")
        async with server.connect("/ws/rooms/lobby?name=bo") as bo:
            await receive(bo, "bo", "bo joined")
            await receive(ada, "ada", "bo joined")
        await receive(ada, "ada", "bo left")
        members = list(server.room("lobby").members.values())
        assert members == ["ada"], (
            f"bo disconnected, but the room still lists {members}. When the endpoint sees "
            "WebSocketDisconnect, take that connection out of the room."
        )
        await ada.send_text("just me now")
        await receive(ada, "ada", "ada: just me now")
    assert not server.room("lobby").members, "Everyone left, but the room still has members."


async def test_a_busy_room_of_many_members(deadline) -> None:
    server = Server()
    names = [f"user{i}" for i in range(25)]
    async with deadline(60, "25 members in one room"):
        async with server.connect("/ws/rooms/big?name=host") as host:
            await receive(host, "host", "host joined")
            for name in names:
                async with server.connect(f"/ws/rooms/big?name={name}") as ws:
                    await receive(ws, name, f"{name} joined")
                    await ws.send_text("bye")
                    await receive(ws, name, f"{name}: bye")
            for name in names:
                await receive(host, "host", f"{name} joined")
                await receive(host, "host", f"{name}: bye")
                await receive(host, "host", f"{name} left")
            assert list(server.room("big").members.values()) == ["host"]
