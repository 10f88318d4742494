"""Create the nightly reconcile periodic task (03:00 in the site's time zone by default).

Depends on django_celery_beat only when it is installed; without it the site
schedules `rcsync.reconcile_all` itself and this migration does nothing.
"""

from django.apps import apps as global_apps
from django.db import migrations


def create_nightly(apps, schema_editor):
    if not global_apps.is_installed("django_celery_beat"):
        return
    # In-function: every migrate loads this module; settings and app code are read only when the step runs.
    from django.conf import settings

    from django_hooks.conf import hook_settings
    from django_hooks.schedule import ensure_nightly_task

    cfg = hook_settings()
    ensure_nightly_task(
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "CrontabSchedule"),
        hour=cfg.nightly_hour,
        minute=cfg.nightly_minute,
        timezone=settings.TIME_ZONE or "UTC",
    )


def remove_nightly(apps, schema_editor):
    if not global_apps.is_installed("django_celery_beat"):
        return
    from django_hooks.schedule import NIGHTLY_TASK_NAME

    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NIGHTLY_TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("django_hooks", "0001_initial")]
    if global_apps.is_installed("django_celery_beat"):
        dependencies.append(("django_celery_beat", "0018_improve_crontab_helptext"))

    operations = [migrations.RunPython(create_nightly, remove_nightly)]
