"""Verbose names (translatable) for rcsync's models and fields: only model and field options change, no column.

The admin shows these names (column headers, filters, the index), so a site in another language reads
them in its own; the English text is what the models said before (or what Django derived from the
field name), except a few that now say what a field means ("site user key", "started by").
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_hooks', '0003_admin_permissions'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='accountlink',
            options={'ordering': ['user_key'], 'verbose_name': 'Rocket.Chat account link', 'verbose_name_plural': 'Rocket.Chat account links'},
        ),
        migrations.AlterModelOptions(
            name='pendingsync',
            options={'ordering': ['first_requested_at'], 'verbose_name': 'pending sync', 'verbose_name_plural': 'pending syncs'},
        ),
        migrations.AlterModelOptions(
            name='syncrun',
            options={'ordering': ['-started_at'], 'permissions': [('view_sync_state', 'Can view Rocket.Chat sync state (accounts, runs, plans, audit)'), ('start_resync', 'Can start Rocket.Chat resyncs and reconciles')], 'verbose_name': 'sync run', 'verbose_name_plural': 'sync runs'},
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='created_at',
            field=models.DateTimeField(auto_now_add=True, verbose_name='created at'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='created_by_bridge',
            field=models.BooleanField(default=False, verbose_name='created by rcsync'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='last_error',
            field=models.TextField(blank=True, default='', verbose_name='last error'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='last_synced_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last synced at'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='rc_user_id',
            field=models.CharField(blank=True, db_index=True, default='', max_length=64, verbose_name='Rocket.Chat user id'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='rc_username',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='Rocket.Chat username'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='site_username',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='site username'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('synced', 'Synced'), ('error', 'Error'), ('conflict', 'Conflict'), ('deactivated', 'Deactivated')], db_index=True, default='pending', max_length=16, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, verbose_name='updated at'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='user',
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='rocketchat_link', to=settings.AUTH_USER_MODEL, verbose_name='site user'),
        ),
        migrations.AlterField(
            model_name='accountlink',
            name='user_key',
            field=models.CharField(max_length=64, unique=True, verbose_name='site user key'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='attempts',
            field=models.PositiveIntegerField(default=0, verbose_name='attempts'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='drift',
            field=models.BooleanField(default=False, help_text='Requested by the Rocket.Chat change feed.', verbose_name='drift repair'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='enqueued_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='enqueued at'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='first_requested_at',
            field=models.DateTimeField(verbose_name='first requested at'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='generation',
            field=models.PositiveIntegerField(default=1, verbose_name='generation'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='last_error',
            field=models.TextField(blank=True, default='', verbose_name='last error'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='last_requested_at',
            field=models.DateTimeField(verbose_name='last requested at'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='next_attempt_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='next attempt at'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='reason',
            field=models.CharField(blank=True, default='', max_length=200, verbose_name='reason'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='started at'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='state',
            field=models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('retrying', 'Waiting to retry')], default='queued', max_length=16, verbose_name='state'),
        ),
        migrations.AlterField(
            model_name='pendingsync',
            name='user_key',
            field=models.CharField(max_length=64, unique=True, verbose_name='site user key'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='at',
            field=models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='when'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='error',
            field=models.TextField(blank=True, default='', verbose_name='error'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='operation',
            field=models.CharField(max_length=64, verbose_name='operation'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='outcome',
            field=models.CharField(choices=[('applied', 'Applied'), ('failed', 'Failed'), ('skipped', 'Skipped')], max_length=16, verbose_name='outcome'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='run',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='operations', to='django_hooks.syncrun', verbose_name='run'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='target',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='target'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='user_key',
            field=models.CharField(blank=True, db_index=True, default='', max_length=64, verbose_name='site user key'),
        ),
        migrations.AlterField(
            model_name='syncoperation',
            name='username',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='username'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='counts',
            field=models.JSONField(blank=True, default=dict, help_text='Operations per kind.', verbose_name='counts'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='dry_run',
            field=models.BooleanField(default=False, verbose_name='dry run'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='error',
            field=models.TextField(blank=True, default='', verbose_name='error'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='finished_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='finished at'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='force',
            field=models.BooleanField(default=False, verbose_name='forced'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='kind',
            field=models.CharField(choices=[('change', 'Change'), ('manual', 'Manual'), ('nightly', 'Nightly'), ('drift', 'Drift')], db_index=True, max_length=16, verbose_name='kind'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='progress_done',
            field=models.PositiveIntegerField(default=0, verbose_name='operations done'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='progress_total',
            field=models.PositiveIntegerField(default=0, verbose_name='operations in total'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='scope',
            field=models.CharField(default='all', help_text="'all' or the site user keys.", max_length=255, verbose_name='scope'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='started_at',
            field=models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='started at'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='status',
            field=models.CharField(choices=[('running', 'Running'), ('succeeded', 'Succeeded'), ('partial', 'Partly failed'), ('failed', 'Failed'), ('refused', 'Refused (safety limit)'), ('planned', 'Planned (dry run)')], db_index=True, default='running', max_length=16, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='summary',
            field=models.JSONField(blank=True, default=dict, verbose_name='summary'),
        ),
        migrations.AlterField(
            model_name='syncrun',
            name='triggered_by',
            field=models.CharField(blank=True, default='', max_length=255, verbose_name='started by'),
        ),
    ]
