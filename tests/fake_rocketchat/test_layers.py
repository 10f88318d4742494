"""The transports call only the backend's public methods (docs/fake-rocketchat.md, "Layout").

moto's handlers are one line into the backend and never touch a private backend attribute; so are the
stand-in's `rest/` and `realtime/`: a rule must live in `backend/`, where both transports obey it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fake_rocketchat

PACKAGE = Path(fake_rocketchat.__file__).parent


def _private_state_uses(path: Path, root: Path = PACKAGE) -> list[str]:
    """`state._x` / `ctx.state._x` / `self.state._x` attribute reads in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        owner = node.value
        name = owner.attr if isinstance(owner, ast.Attribute) else owner.id if isinstance(owner, ast.Name) else None
        if name == "state":
            found.append(f"{path.relative_to(root)}:{node.lineno} .{node.attr}")
    return found


def test_transports_touch_no_private_backend_attribute() -> None:
    modules = sorted([*PACKAGE.joinpath("rest").glob("*.py"), *PACKAGE.joinpath("realtime").glob("*.py")])
    assert len(modules) >= 10  # the scan found the transports
    offenders = [hit for module in modules for hit in _private_state_uses(module)]
    assert not offenders, "transports reaching into the backend's privates:\n" + "\n".join(offenders)


def test_the_scan_sees_a_private_access(tmp_path: Path) -> None:
    """The checker itself can fail: a synthetic module with `ctx.state._users` is reported."""
    probe = tmp_path / "probe.py"
    probe.write_text("def handler(ctx):\n    return ctx.state._users, ctx.state.users, ctx.state.__class__\n")
    assert _private_state_uses(probe, tmp_path) == ["probe.py:2 ._users"]
