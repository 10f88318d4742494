"""The `/api/v1` route table (moto's `urls.py`), assembled from the route families.

Each family module (`auth`, `users`, `roles`, `rooms`, `room_lifecycle`, `rooms_admin`, `settings`, `methodcall`) lists its own
routes in `register_routes`, next to the handlers, so a route and its handler change together;
this module is the one place that says which families the stand-in serves.
"""

from __future__ import annotations

from types import ModuleType

from . import auth, methodcall, roles, room_lifecycle, rooms, rooms_admin, settings, users
from .base import Routes

FAMILIES: tuple[ModuleType, ...] = (auth, users, roles, rooms, room_lifecycle, rooms_admin, settings, methodcall)


def build_routes() -> Routes:
    """A fresh route table holding every family's routes."""
    routes = Routes()
    for family in FAMILIES:
        family.register_routes(routes)
    return routes
