"""The workspace's settings collection: values of the registered settings (`settings_registry`).

Why a store apart from the registry: the registry is data (what Rocket.Chat registers at start-up, with
flags); the store is the collection a running workspace holds, which also grows at run time
(`settings.addCustomOAuth` registers a service's block) and which an empty restart resets to the defaults.
Lookups that REST needs (`findOneNotHiddenById`, `public` filter, `packageValue`) are answered here.
Not thread-safe by itself: the State lock guards it.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from .settings_registry import REGISTRY, SettingSpec, custom_oauth_settings

# `Accounts_SystemBlockedUsernameList` (hidden, so never exposed over the API), as its default.
SYSTEM_BLOCKED_NAMES = tuple(REGISTRY["Accounts_SystemBlockedUsernameList"].default.split(","))

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,), "int": (int,), "string": (str,), "select": (str,), "multiSelect": (list,),
    "code": (str,), "language": (str,), "action": (str,),
}


class SettingsStore:
    """Setting values by id, plus the specs of every registered setting (built-in and added at run time)."""

    def __init__(self) -> None:
        self._specs: dict[str, SettingSpec] = dict(REGISTRY)
        self._values: dict[str, Any] = {k: spec.initial_value() for k, spec in self._specs.items()}
        self._options: dict[str, dict[str, Any]] = {}  # e.g. a colour setting's `editor`

    # ------------------------------------------------------------------ lookups
    def __contains__(self, setting_id: str) -> bool:
        return setting_id in self._values

    def get(self, setting_id: str) -> Any:
        return copy.deepcopy(self._values[setting_id])

    def spec(self, setting_id: str) -> SettingSpec | None:
        return self._specs.get(setting_id)

    def type_of(self, setting_id: str) -> str:
        return self._specs[setting_id].type

    def visible(self, setting_id: str) -> bool:
        """`findOneNotHiddenById`: registered and not hidden."""
        spec = self._specs.get(setting_id)
        return spec is not None and not spec.hidden

    def accepts(self, setting_id: str, value: Any) -> bool:
        """Whether `value` has the setting's declared type (bools are not ints). Used by seeds and helpers;
        the 7.x REST route does not type-check (reference §11.3)."""
        kind = self.type_of(setting_id)
        if kind == "int" and isinstance(value, bool):
            return False
        return isinstance(value, _PY_TYPES.get(kind, (object,)))

    def specs(self) -> list[SettingSpec]:
        return list(self._specs.values())

    def ids(self) -> list[str]:
        return sorted(self._values)

    def document(self, setting_id: str, include_default: bool = False) -> dict[str, Any]:
        """The `fetchSettings` projection: `_id`, `value`, `enterprise`/`invalidValue` when set (+ `packageValue`)."""
        spec = self._specs[setting_id]
        doc: dict[str, Any] = {"_id": setting_id, "value": self.get(setting_id)}
        if spec.enterprise:
            doc["enterprise"] = True
            doc["invalidValue"] = copy.deepcopy(spec.invalid_value)
        if include_default:
            doc["packageValue"] = spec.initial_value()
        return doc

    def listing(self, *, public_only: bool, ids: Iterable[str] | None = None) -> list[str]:
        """Ids of non-hidden settings (public ones only when asked), sorted by `_id` as `fetchSettings` does."""
        wanted = set(ids) if ids is not None else None
        return [
            k for k in sorted(self._specs)
            if not self._specs[k].hidden and (not public_only or self._specs[k].public)
            and (wanted is None or k in wanted)
        ]

    # ------------------------------------------------------------------ changes
    def set(self, setting_id: str, value: Any) -> None:
        if setting_id not in self._values:
            raise KeyError(setting_id)
        self._values[setting_id] = copy.deepcopy(value)

    def set_option(self, setting_id: str, key: str, value: Any) -> None:
        self._options.setdefault(setting_id, {})[key] = copy.deepcopy(value)

    def register(self, spec: SettingSpec) -> bool:
        """`settingsRegistry.add`: a new id gets its default; an existing one keeps its stored value.
        Returns whether the id was new."""
        if spec.id in self._specs:
            return False
        self._specs[spec.id] = spec
        self._values[spec.id] = spec.initial_value()
        return True

    def register_custom_oauth(self, name: str) -> list[str]:
        """`addOAuthService(name)`: register the service's settings block; returns the ids added."""
        return [spec.id for spec in custom_oauth_settings(name) if self.register(spec)]

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """Values and the run-time registrations (for `--data`); built-in specs come from the registry."""
        added = [spec.id for k, spec in self._specs.items() if k not in REGISTRY]
        return {"values": copy.deepcopy(self._values), "added": added, "options": copy.deepcopy(self._options)}

    def restore(self, data: dict[str, Any]) -> None:
        for setting_id in data.get("added", []):
            if setting_id.startswith("Accounts_OAuth_Custom-") and setting_id not in self._specs:
                base = setting_id[len("Accounts_OAuth_Custom-"):].split("-", 1)[0]
                self.register_custom_oauth(base)
        for setting_id, value in (data.get("values") or {}).items():
            if setting_id in self._values:
                self._values[setting_id] = copy.deepcopy(value)
        self._options = copy.deepcopy(data.get("options") or {})

