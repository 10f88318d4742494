"""REST API of the stand-in: one module per route family plus the route table."""

from __future__ import annotations

import importlib

from .base import Api, Routes

FAMILIES = ("auth", "users", "roles", "rooms", "settings", "methodcall")


def build_routes() -> Routes:
    """The `/api/v1` route table (moto's `urls.py`), assembled from every family module."""
    routes = Routes()
    for name in FAMILIES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register_routes(routes)
    return routes


__all__ = ["Api", "Routes", "build_routes"]
