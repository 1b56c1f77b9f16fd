"""Kata 20: WebSockets. Read README.md, then fill in each TODO."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class Room:
    """The connections in one chat room, each with its member's name."""

    def __init__(self) -> None:
        self.members: dict[WebSocket, str] = {}

    async def join(self, websocket: WebSocket, name: str) -> None:
        """Accept the connection, add it as `name`, and tell everyone "<name> joined"."""
        # TODO: accept the websocket, remember it in self.members, then broadcast.
        raise NotImplementedError("Room.join")

    def leave(self, websocket: WebSocket) -> str | None:
        """Take the connection out of the room; return its name (None if it was not in)."""
        # TODO: remove it from self.members without failing if it is already gone.
        raise NotImplementedError("Room.leave")

    async def broadcast(self, text: str) -> None:
        """Send `text` to every member with `send_text`.

        A member whose connection fails is removed; everyone else still gets the text,
        and no error reaches the caller.
        """
        # TODO: send to each member; a failed send removes that member and goes on.
        raise NotImplementedError("Room.broadcast")


def get_room(app: FastAPI, name: str) -> Room:
    """The room called `name` in this app, made the first time someone asks."""
    rooms: dict[str, Room] = app.state.rooms
    if name not in rooms:
        rooms[name] = Room()
    return rooms[name]


def create_app() -> FastAPI:
    """A fresh app with no rooms yet (each test makes its own)."""
    app = FastAPI()
    app.state.rooms = {}

    @app.websocket("/ws/echo")
    async def echo(websocket: WebSocket) -> None:
        """Accept, then send back every text message until the client disconnects."""
        # TODO: accept; loop receive_text -> send_text; a WebSocketDisconnect ends it.
        raise NotImplementedError("echo")

    @app.websocket("/ws/rooms/{room_name}")
    async def chat(websocket: WebSocket, room_name: str, name: str) -> None:
        """Join `room_name` as `name` (a query parameter: /ws/rooms/lobby?name=ada).

        Everyone in the room, you too, gets "<name> joined"; then "<name>: <text>" for
        every message you send; and "<name> left" when you disconnect.
        """
        # TODO: join the room, relay each message with broadcast, and on
        # WebSocketDisconnect leave the room and tell the others.
        raise NotImplementedError("chat")

    return app


app = create_app()  # what `fastapi dev chat_api.py` or `uvicorn chat_api:app` serves
