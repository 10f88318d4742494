"""Raw SQL in django_hooks names its tables through the models' `_meta.db_table` (quoted by the
connection), never as literals, so a site that renames a table (or a future migration) cannot
leave a statement pointing at the old name."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.db import connection

from django_hooks.models import PendingSync
from django_hooks.queue.pending import pending_table

ROOT = Path(__file__).resolve().parents[2] / "django_hooks"


def test_no_module_spells_a_table_name() -> None:
    tables = {model._meta.db_table for model in apps.get_app_config("django_hooks").get_models()}
    offenders = [
        f"{path.relative_to(ROOT)}: {table}"
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations" not in path.parts and path.name != "models.py"
        for table in tables
        if re.search(rf"\b{re.escape(table)}\b", path.read_text())  # not URL names like <table>_changelist
    ]
    assert offenders == []


def test_the_table_comes_from_meta_quoted() -> None:
    assert pending_table(connection) == connection.ops.quote_name(PendingSync._meta.db_table)
    assert pending_table(connection) != PendingSync._meta.db_table  # quoted
