"""The binding of a person's desired account to a Rocket.Chat account: what matching hands to planning.

Its own module so that the planning helpers (emails.py) and the matcher can both use it without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .policy import DesiredAccount


@dataclass(frozen=True, slots=True)
class Target:
    """A person's desired account bound to an observed account (``user_id``) or to be created (None)."""

    desired: DesiredAccount
    user_id: str | None
    username: str
    adopted: bool = False
    created_by_bridge: bool = True
