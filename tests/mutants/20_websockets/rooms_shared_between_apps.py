"""Mutant: one module-level dict of rooms, shared by every app instead of kept on app.state."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class Room:
    """The connections in one chat room, each with its member's name."""

    def __init__(self) -> None:
        self.members: dict[WebSocket, str] = {}

    async def join(self, websocket: WebSocket, name: str) -> None:
        """Accept the connection, add it as `name`, and tell everyone "<name> joined"."""
        await websocket.accept()
        self.members[websocket] = name
        await self.broadcast(f"{name} joined")

    def leave(self, websocket: WebSocket) -> str | None:
        """Take the connection out of the room; return its name (None if it was not in)."""
        return self.members.pop(websocket, None)

    async def broadcast(self, text: str) -> None:
        """Send `text` to every member with `send_text`.

        A member whose connection fails is removed; everyone else still gets the text,
        and no error reaches the caller.
        """
        for websocket in list(self.members):  # a copy: members may leave meanwhile
            try:
                await websocket.send_text(text)
            except Exception:  # gone before we noticed: drop it, reach the others
                self.leave(websocket)


ROOMS: dict[str, Room] = {}


def get_room(app: FastAPI, name: str) -> Room:
    """The room called `name` in this app, made the first time someone asks."""
    rooms = ROOMS
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
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    @app.websocket("/ws/rooms/{room_name}")
    async def chat(websocket: WebSocket, room_name: str, name: str) -> None:
        """Join `room_name` as `name` (a query parameter: /ws/rooms/lobby?name=ada).

        Everyone in the room, you too, gets "<name> joined"; then "<name>: <text>" for
        every message you send; and "<name> left" when you disconnect.
        """
        room = get_room(websocket.app, room_name)
        await room.join(websocket, name)
        try:
            while True:
                text = await websocket.receive_text()
                await room.broadcast(f"{name}: {text}")
        except WebSocketDisconnect:
            room.leave(websocket)
            await room.broadcast(f"{name} left")

    return app


app = create_app()  # what `fastapi dev chat_api.py` or `uvicorn chat_api:app` serves
