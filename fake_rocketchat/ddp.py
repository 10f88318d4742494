"""Realtime API (DDP over WebSocket) of the stand-in. Placeholder until the DDP work lands."""

from starlette.websockets import WebSocket


async def endpoint(websocket: WebSocket) -> None:
    """Starlette WebSocket endpoint mounted at `/websocket`; `websocket.app.state.rc` is the state."""
    await websocket.accept()
    await websocket.close()
