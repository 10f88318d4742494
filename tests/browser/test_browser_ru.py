"""The task UI of a Russian-language site (`LANGUAGE_CODE = "ru"`) in headless Chromium: every page of it,
from the admin index to a reconcile applied live, speaks Russian, and shows no string that is not in a
catalog (rcsync's django/djangojs, Django admin's) or data.

The pages come from the same walk both tests take (`walk`): the admin index, Accounts, one person's page,
"Preview changes", Sync runs, "Reconcile everything", a preview, the preview while it is applied (the
progress script's strings from the JavaScript catalog), the run's page, the audit trail, pending syncs and
the 403 page. Screenshots: test-artifacts/browser/ru-*.png. Real worker, PostgreSQL, Redis and stand-in.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
from django.contrib.auth import get_user_model
from django.utils import dates, translation

from catalog_text import CONTAINERS, VISIBLE_TEXT_JS, Catalog
from django_hooks.conf import engine_config
from django_hooks.models import AccountLink, PendingSync, SyncOperation, SyncRun
from sync_tasks.ops import ALL_KINDS
from test_browser_admin import login, make_staff

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_user_model()


@pytest.fixture
def russian_site(settings) -> None:
    """The site's LANGUAGE_CODE, as a Russian site sets it (no LocaleMiddleware: the browser does not choose)."""
    settings.LANGUAGE_CODE = "ru"


def people(prefix: str) -> None:
    """Site people Rocket.Chat does not know yet (no signals); names of their own per test, since the
    stand-in (module-scoped, like the worker) keeps the accounts the other test's reconcile made."""
    roles = ["owner", "moderator", "store_owner", "user", "user", "user"]
    User.objects.bulk_create([User(username=f"{prefix}{i:02}", email=f"{prefix}{i:02}@example.org", role=role,
                                   first_name=f"Участник {i}") for i, role in enumerate(roles)])


def walk(browser: Any, base: str, prefix: str) -> Iterator[tuple[str, Any]]:
    """Visit every page of the task UI as an operator with the start permission; yield (name, page) on each."""
    people(prefix)
    make_staff(f"{prefix}-operator", "start_resync")
    make_staff(f"{prefix}-intern")
    PendingSync.objects.create(user_key="999", reason="тест", first_requested_at="2026-12-01T10:00:00Z",
                               last_requested_at="2026-12-01T10:00:00Z")
    page = browser.new_page()
    login(page, base, f"{prefix}-operator")
    yield "index", page

    page.goto(f"{base}/admin/django_hooks/accountlink/")
    yield "accounts", page
    member = User.objects.get(username=f"{prefix}00")
    page.goto(f"{base}/admin/django_hooks/accountlink/person/{member.pk}/")
    yield "account-before", page

    page.goto(f"{base}/admin/django_hooks/accountlink/")
    page.check(f"input[name=_selected_action][value='{member.pk}']")
    page.select_option("select[name=action]", "preview_changes")
    page.click("button[name=index]")
    page.wait_for_selector("text=Предпросмотр изменений")
    yield "accounts-preview", page

    page.goto(f"{base}/admin/django_hooks/syncrun/reconcile/")
    yield "reconcile", page
    page.click("#rcsync-preview-form input[type=submit]")
    page.wait_for_url(re.compile(r".*/syncrun/reconcile/\d+/$"))
    yield "reconcile-preview", page

    page.click("#rcsync-apply-form input[type=submit]")
    page.wait_for_selector("#rcsync-live .rcsync-progress[data-finished='1'][data-percent='100']", timeout=60_000)
    run = SyncRun.objects.get(dry_run=False, kind="manual")
    page.wait_for_function(f"document.querySelectorAll('#rcsync-ops tr').length === {SyncOperation.objects.filter(run=run).count()}")
    yield "reconcile-applied", page

    page.goto(f"{base}/admin/django_hooks/syncrun/{run.pk}/change/")
    page.wait_for_function(f"document.querySelectorAll('#rcsync-ops tr').length === {SyncOperation.objects.filter(run=run).count()}")
    yield "run", page
    page.goto(f"{base}/admin/django_hooks/syncrun/")
    yield "runs", page
    page.goto(f"{base}/admin/django_hooks/accountlink/person/{member.pk}/")
    yield "account-after", page
    page.goto(f"{base}/admin/django_hooks/syncoperation/")
    yield "audit", page
    page.goto(f"{base}/admin/django_hooks/pendingsync/")
    yield "pending", page

    browser.clear_cookies()  # the operator signs out; a staff member without rcsync's permissions signs in
    intern = browser.new_page()
    login(intern, base, f"{prefix}-intern")
    assert intern.goto(f"{base}/admin/django_hooks/syncrun/").status == 403
    yield "forbidden", intern


#: What each page must say in Russian (its heading and a word of rcsync's own on it).
RUSSIAN = {
    "index": ["Синхронизация с Rocket.Chat", "Запуски синхронизации", "Журнал действий"],
    "accounts": ["Учётные записи Rocket.Chat", "Синхронизировать сейчас", "Состояние"],
    "account-before": ["Желаемое и фактическое", "История действий", "Не связан"],
    "accounts-preview": ["Предпросмотр изменений", "Создать учётную запись", "Синхронизировать их сейчас"],
    "reconcile": ["Сверить всё", "Рассчитать предпросмотр"],
    "reconcile-preview": ["Предпросмотр сверки №", "План по видам изменений", "Создать учётную запись"],
    "reconcile-applied": ["Применение — в очередь поставил walk-operator", "Применённые операции", "Применена", "Запуск"],
    "run": ["Ход выполнения", "Применённые операции", "Успешно", "Применена"],
    "runs": ["Запуски синхронизации", "Сверить всё…", "Ручной", "Успешно"],
    "account-after": ["Соответствует политике: делать нечего.", "Синхронизирован"],
    "audit": ["запись журнала", "Результат"],
    "pending": ["ожидающая синхронизация"],
    "forbidden": ["Нужно право доступа", "django_hooks.start_resync"],
}


def test_russian_walk_through_every_page(browser, live_server, stand_in, worker, artifacts, russian_site) -> None:
    seen = set()
    for name, page in walk(browser, live_server.url, "walk"):
        page.screenshot(path=str(artifacts / f"ru-{name}.png"), full_page=True)
        assert page.locator("html").get_attribute("lang") == "ru", name
        # inner_text follows CSS text-transform (module captions); buttons' labels are in the markup only
        text = (page.inner_text("body") + page.content()).lower()
        missing = [t for t in RUSSIAN[name] if t.lower() not in text]
        assert not missing, (name, missing)
        seen.add(name)
    assert seen == set(RUSSIAN)
    # Dates in the locale's format and the site's time zone, also in rows the script appended.
    run = SyncRun.objects.get(dry_run=False, kind="manual")
    op = SyncOperation.objects.filter(run=run).order_by("pk").first()
    from django.utils import formats, timezone

    with translation.override("ru"):
        when = formats.date_format(timezone.localtime(op.at), "DATETIME_FORMAT")
    assert re.fullmatch(r"\d{1,2} [а-я]+ \d{4} г\. \d{1,2}:\d{2}", when), when


def page_data() -> list[str]:
    """The data the walk's pages show: people, accounts, rooms, roles, codes, who started what."""
    config = engine_config()
    data = ["Rocket.Chat", "rcsync", "django_hooks.view_sync_state", "django_hooks.start_resync", *ALL_KINDS]
    for user in User.objects.all():
        data += [user.get_username(), user.email, user.first_name, user.last_name, str(user.pk), getattr(user, "role", ""),
                 f"{user.get_username()} <{user.email}>"]  # a create_user's target
    # The site's own model's words (its role field's choices): the site's data, not rcsync's strings.
    data += [str(label) for _value, label in User._meta.get_field("role").choices or ()]
    data += [room.name for room in config.rooms] + [room.key for room in config.rooms]
    data += list(config.managed_roles) + list(config.managed_room_roles) + list(config.people.role_values)
    data += list(config.people.groups)
    for run in SyncRun.objects.all():
        data += [run.triggered_by, run.scope, run.kind, run.status]
    for op in SyncOperation.objects.all():
        data += [op.target, op.username, op.user_key, op.operation]
    for link in AccountLink.objects.all():
        data += [link.rc_username, link.rc_user_id]
    data += [p.reason for p in PendingSync.objects.all()] + [p.user_key for p in PendingSync.objects.all()]
    return data


def month_words() -> list[str]:
    with translation.override("ru"):
        return [str(m) for table in (dates.MONTHS, dates.MONTHS_ALT, dates.MONTHS_3) for m in table.values()]


def test_no_page_shows_a_string_outside_the_catalog(browser, live_server, stand_in, worker, artifacts,
                                                   russian_site) -> None:
    problems, shown = {}, {}
    for name, page in walk(browser, live_server.url, "seen"):
        catalog = Catalog(page_data(), month_words())
        texts = page.evaluate(VISIBLE_TEXT_JS, CONTAINERS)
        assert texts, name
        shown[name] = {"texts": texts, "data": sorted(catalog.data)}
        bad = catalog.uncovered(texts)
        if bad:
            problems[name] = bad
        if name == "runs":  # the checker itself: an English string in the page is reported
            page.evaluate("document.querySelector('#content').append(document.createTextNode('Preview changes'))")
            assert set(catalog.uncovered(page.evaluate(VISIBLE_TEXT_JS, CONTAINERS))) == {*bad, "Preview changes"}
    # What each page showed, to see why a text was reported (and to try the checker on it offline).
    (artifacts / "ru-texts.json").write_text(json.dumps(shown, ensure_ascii=False, indent=1))
    assert not problems, "\n".join(f"{name}: {text!r}" for name, texts in problems.items() for text in texts)
