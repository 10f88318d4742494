"""The checker of tests/browser/test_browser_ru.py on its own (no browser): what it must let through and
what it must report, so a green Russian walk-through means something."""

from __future__ import annotations

import pytest

from catalog_text import Catalog


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(["olga", "general", "moderators", "moderator", "admin:olga", "create_user", "olga <olga@example.org>"],
                   ["декабря"])


@pytest.mark.parametrize("text", [
    "Запуски синхронизации", "Сверить всё…", "Запуск №12", "Рассчитан 2 декабря 2026 г. 1:30, запросил admin:olga",
    "21 человек на сайте", "Применить 3 операции", "moderator в general", "› Предпросмотр изменений",
    "2 запуски синхронизации", "42% · 3/10", "olga <olga@example.org>", "create_user", "ручной", "Выполнить",
    "2 декабря 2026 г. 1:30", "Начало",
])
def test_russian_from_a_catalog_and_data_pass(catalog, text) -> None:
    assert catalog.covered(text), text


@pytest.mark.parametrize("text", [
    "Preview changes", "Sync runs", "Run", "queued", "No operations applied yet.", "applied by olga",
    "2 sync runs", "Запуск №Preview",  # English hidden in a placeholder
    "Синхронизировать всех немедленно",  # Russian that no catalog holds
    "3 декабрь 2026 г.",  # a month word the locale does not use in dates
])
def test_english_and_strings_outside_the_catalogs_are_reported(catalog, text) -> None:
    assert not catalog.covered(text), text
