"""Declare the admin task UI's two permissions on SyncRun (they were made by a post_migrate hook).

Only model options change, no table: Django's own `create_permissions` (auth's post_migrate)
creates the rows it does not find by (content type, codename). Both are the ones the old hook
used (SyncRun's content type, same codenames), so an existing install keeps its rows and every
group or user grant on them.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("django_hooks", "0002_nightly_schedule")]

    operations = [
        migrations.AlterModelOptions(
            name="syncrun",
            options={
                "ordering": ["-started_at"],
                "permissions": [
                    ("view_sync_state", "Can view Rocket.Chat sync state (accounts, runs, plans, audit)"),
                    ("start_resync", "Can start Rocket.Chat resyncs and reconciles"),
                ],
            },
        ),
    ]
