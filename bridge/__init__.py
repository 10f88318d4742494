"""Rocket.Chat client for a TOTP-protected service account: async REST (`AsyncRocketChat`), a
synchronous facade for Celery code (`RocketChat`), and a realtime DDP client (`RealtimeClient`).

No Django here; only stdlib, httpx, websockets, pyotp (and redis, lazily, when given).
"""

from .config import BridgeConfig, ConfigError, Secret
from .errors import (
    AuthError,
    Conflict,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    RocketChatError,
    ServerError,
    SessionLost,
    TransientError,
    TwoFactorError,
    Unavailable,
)
from .observe import CallObserved, CallObserver
from .models import Listing, RcRole, RcRoom, RcUser, RoomMember, RoomRoles, Subscription, UserRoom
from .client import RocketChat
from .ddp import RealtimeClient
from .events import MembershipChanged, RealtimeEvent, Reconnected, RoleChanged, StreamEvent, UserDeleted, UserRenamed
from .rest import AsyncRocketChat
from .tokens import MemoryTokenStore, RedisTokenStore, StoredToken, TokenStore

__all__ = [
    "AsyncRocketChat",
    "RocketChat",
    "RealtimeClient",
    "RealtimeEvent",
    "RoleChanged",
    "UserRenamed",
    "UserDeleted",
    "MembershipChanged",
    "StreamEvent",
    "Reconnected",
    "BridgeConfig",
    "ConfigError",
    "Secret",
    "CallObserved",
    "CallObserver",
    "RocketChatError",
    "AuthError",
    "TwoFactorError",
    "SessionLost",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "RateLimited",
    "InvalidInput",
    "TransientError",
    "ServerError",
    "Unavailable",
    "OutcomeUnknown",
    "RcUser",
    "UserRoom",
    "RcRoom",
    "RcRole",
    "RoomMember",
    "Listing",
    "RoomRoles",
    "Subscription",
    "TokenStore",
    "MemoryTokenStore",
    "RedisTokenStore",
    "StoredToken",
]
