"""The task UI and the `rcsync` command in Russian (django_hooks/locale/ru), and the checks that keep the
catalog complete: `make messages-check` (scripts/messages.py) as CI runs it, its failure on a string
nobody translated, a stale .mo, Russian plural forms, and dates in the site's time zone and locale.
"""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import formats, timezone, translation
from django.utils.translation import ngettext

from django_hooks.models import SyncOperation, SyncRun

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "messages.py"
LOCALE = ROOT / "django_hooks" / "locale" / "ru" / "LC_MESSAGES"
BASE = "/admin/django_hooks"
RU_PLURALS = "nplurals=3; plural=(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"


def messages_module():
    spec = importlib.util.spec_from_file_location("rcsync_messages", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_messages(action: str, *args: str) -> subprocess.CompletedProcess:
    """scripts/messages.py as `make messages` / `make messages-check` run it."""
    return subprocess.run([sys.executable, str(SCRIPT), action, *args], capture_output=True, text=True, timeout=300)


def run_check(*args: str) -> subprocess.CompletedProcess:
    return run_messages("check", *args)


def app_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "django_hooks"
    shutil.copytree(ROOT / "django_hooks", copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


# --- the catalog is complete and compiled -------------------------------------------------------------


def test_make_messages_check_passes_every_source_string_is_translated() -> None:
    proc = run_check()
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_messages_check_fails_on_a_source_string_without_translation(tmp_path) -> None:
    copy = app_copy(tmp_path)
    template = copy / "templates" / "admin" / "django_hooks" / "syncrun" / "reconcile.html"
    template.write_text(template.read_text().replace(
        '{% translate "Recent previews" %}', '{% translate "Recent previews" %} {% translate "A string nobody translated" %}'))
    script = copy / "static" / "django_hooks" / "rcsync-admin.js"
    script.write_text(script.read_text().replace('gettext("Run")', 'gettext("Run") + gettext("A new script string")'))
    proc = run_check("--app", str(copy))
    assert proc.returncode == 1
    assert 'ru/django.po untranslated: "A string nobody translated"' in proc.stdout, proc.stdout
    assert 'ru/djangojs.po untranslated: "A new script string"' in proc.stdout, proc.stdout


def test_messages_check_fails_on_a_fuzzy_translation(tmp_path) -> None:
    copy = app_copy(tmp_path)
    po = copy / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    text = po.read_text()
    assert '\nmsgid "Recent previews"' in text
    po.write_text(text.replace('\nmsgid "Recent previews"', '\n#, fuzzy\nmsgid "Recent previews"', 1))
    proc = run_check("--app", str(copy))
    assert proc.returncode == 1 and 'fuzzy: "Recent previews"' in proc.stdout, proc.stdout


def test_a_mo_file_stale_against_its_po_is_found(tmp_path) -> None:
    messages = messages_module()
    assert messages.stale_mo(ROOT / "django_hooks") == []
    copy = app_copy(tmp_path)
    po = copy / "locale" / "ru" / "LC_MESSAGES" / "djangojs.po"
    po.write_text(po.read_text().replace('msgstr "Ждём обработчик…"', 'msgstr "Ожидаем обработчик…"'))
    assert messages.stale_mo(copy) == ["django_hooks/locale/ru/LC_MESSAGES/djangojs.mo is stale against its .po (run make messages)"]
    (copy / "locale" / "ru" / "LC_MESSAGES" / "django.mo").unlink()
    assert "django_hooks/locale/ru/LC_MESSAGES/django.mo is missing (run make messages)" in messages.stale_mo(copy)


def test_make_messages_extracts_a_new_string_and_compiles_the_catalog(tmp_path) -> None:
    copy = app_copy(tmp_path)
    template = copy / "templates" / "admin" / "django_hooks" / "syncrun" / "reconcile.html"
    template.write_text(template.read_text().replace('{% translate "Recent previews" %}', '{% translate "Brand new" %}'))
    proc = run_messages("update", "--app", str(copy))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    po = (copy / "locale" / "ru" / "LC_MESSAGES" / "django.po").read_text()
    assert 'msgid "Brand new"\nmsgstr ""' in po and 'msgid "Recent previews"' not in po  # --no-obsolete
    assert 'msgstr "Рассчитать предпросмотр"' in po  # translations are kept
    assert messages_module().stale_mo(copy) == []


def test_both_catalogs_declare_russian_plural_forms() -> None:
    for name in ("django.po", "djangojs.po"):
        header = (LOCALE / name).read_text().replace('"\n"', "")  # msgmerge wraps long header lines
        assert f"Plural-Forms: {RU_PLURALS}\\n" in header, name
        assert "Language: ru\\n" in header and "#, fuzzy\nmsgid \"\"" not in header, name


@pytest.mark.parametrize("n, word", [(1, "учётной записи"), (21, "учётной записи"), (3, "учётных записей"),
                                     (5, "учётных записей"), (11, "учётных записей"), (112, "учётных записей")])
def test_russian_plurals_pick_the_form_for_the_number(n, word) -> None:
    with translation.override("ru"):
        text = ngettext("Queued a sync of %(count)d account.", "Queued a sync of %(count)d accounts.", n) % {"count": n}
    assert text == f"Синхронизация {n} {word} поставлена в очередь."


@pytest.mark.parametrize("n, form", [(1, "операцию"), (22, "операции"), (4, "операции"), (5, "операций"), (14, "операций")])
def test_russian_plural_forms_in_templates(n, form) -> None:
    from django.template import Context, Template

    template = Template("{% load i18n %}{% blocktranslate count counter=n %}Apply {{ counter }} operation"
                        "{% plural %}Apply {{ counter }} operations{% endblocktranslate %}")
    with translation.override("ru"):
        assert template.render(Context({"n": n})) == f"Применить {n} {form}"


# --- pages, JSON, the JavaScript catalog and the command in Russian ------------------------------------


@pytest.fixture
def ru_admin(db, settings) -> Client:
    settings.LANGUAGE_CODE = "ru"
    boss = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw")
    client = Client()
    client.force_login(boss)
    return client


@pytest.mark.django_db
def test_the_task_pages_speak_russian_when_the_site_does(ru_admin) -> None:
    run = SyncRun.objects.create(kind="manual", scope="all")
    pages = {
        f"{BASE}/accountlink/": ["Учётные записи Rocket.Chat", "Синхронизировать сейчас", "состояние синхронизации"],
        f"{BASE}/syncrun/": ["Запуски синхронизации", "Сверить всё…", "Длительность"],
        f"{BASE}/syncrun/reconcile/": ["Сверить всё", "Рассчитать предпросмотр"],
        f"{BASE}/syncrun/{run.pk}/change/": [f"Запуск №{run.pk}", "Ход выполнения", "Выполняется"],
        f"{BASE}/syncoperation/": ["запись журнала"],
        f"{BASE}/pendingsync/": ["ожидающая синхронизация", "Причина"],
        "/admin/": ["Синхронизация с Rocket.Chat", "Запуски синхронизации"],
    }
    for url, expected in pages.items():
        html = ru_admin.get(url).content.decode()
        for text in expected:
            assert text in html, (url, text)


@pytest.mark.django_db
def test_the_javascript_catalog_serves_the_progress_scripts_strings(ru_admin, settings) -> None:
    page = ru_admin.get(f"{BASE}/syncrun/").content.decode()
    src = re.search(r'<script src="([^"]*jsi18n/)" defer></script>', page)
    assert src, "the runs page does not load rcsync's JavaScript catalog"
    catalog = ru_admin.get(src.group(1)).content.decode()
    assert '"Waiting for a worker\\u2026": "\\u0416\\u0434\\u0451\\u043c' in catalog or "Ждём обработчик" in catalog
    assert "(n%10==1 && n%100!=11 ? 0" in catalog  # Russian plurals for ngettext()
    assert "private" in ru_admin.get(src.group(1))["Cache-Control"]
    settings.LANGUAGE_CODE = "en-us"  # built once per language: the English site gets no Russian
    english = ru_admin.get(src.group(1)).content.decode()
    assert "Ждём" not in english and "\\u0416" not in english and "(n%10==1" not in english


@pytest.mark.django_db
def test_json_times_carry_the_sites_offset_and_the_locale_format(ru_admin, settings) -> None:
    settings.TIME_ZONE = "Asia/Yekaterinburg"  # +05:00, never the machine's or UTC
    run = SyncRun.objects.create(kind="manual", scope="all")
    op = SyncOperation.objects.create(run=run, user_key="1", username="olga", operation="create_user", target="olga",
                                      outcome="applied")
    data = ru_admin.get(f"{BASE}/syncrun/{run.pk}/operations.json").json()
    [row] = data["operations"]
    at = datetime.fromisoformat(row["at"])
    assert at.utcoffset() == ZoneInfo("Asia/Yekaterinburg").utcoffset(op.at.replace(tzinfo=None))
    assert at == op.at
    with translation.override("ru"), timezone.override(ZoneInfo("Asia/Yekaterinburg")):
        assert row["at_text"] == formats.date_format(timezone.localtime(op.at), "DATETIME_FORMAT")
    assert re.search(r"[а-я]", row["at_text"]), row["at_text"]  # Russian month name
    assert row["outcome_label"] == "Применена"
    assert data["run"]["status_label"] == "Выполняется" and data["run"]["duration_text"] == "выполняется"


@pytest.mark.django_db
def test_the_rcsync_command_speaks_russian_but_keeps_machine_read_markers() -> None:
    out = io.StringIO()
    with translation.override("ru"):
        call_command("rcsync", "status", stdout=out)
    text = out.getvalue()
    assert "учётные записи по состояниям:" in text and "ожидающих синхронизаций: 0" in text, text
    from django_hooks.health import HealthCheck

    with translation.override("ru"):
        assert HealthCheck("pending", False, "x").line() == "pending: FAIL: x"  # probes grep "<name>: ok|FAIL:"


def test_without_gettext_the_check_says_exactly_what_is_missing() -> None:
    # No PATH: neither the gettext tools nor apt-get are found, so nothing is installed, even as root.
    proc = subprocess.run(["/usr/bin/env", "-i", "PATH=/nonexistent", sys.executable, str(SCRIPT), "check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "MISSING: xgettext, msgmerge, msguniq, msgattrib, msgfmt (Debian: apt-get install gettext)" in proc.stderr
