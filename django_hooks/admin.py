"""Plain admin registration of rcsync's models (a richer task UI is a later issue)."""

from django.contrib import admin

from django_hooks.models import AccountLink, PendingSync, SyncOperation, SyncRun


@admin.register(AccountLink)
class AccountLinkAdmin(admin.ModelAdmin):
    list_display = ("user_key", "site_username", "rc_username", "rc_user_id", "status", "last_synced_at", "created_by_bridge")
    list_filter = ("status", "created_by_bridge")
    search_fields = ("user_key", "site_username", "rc_username", "rc_user_id")
    readonly_fields = ("created_at", "updated_at")


@admin.register(PendingSync)
class PendingSyncAdmin(admin.ModelAdmin):
    list_display = ("user_key", "state", "generation", "reason", "first_requested_at", "attempts", "next_attempt_at")
    list_filter = ("state", "drift")
    search_fields = ("user_key", "reason")


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "scope", "dry_run", "progress_done", "progress_total", "triggered_by", "started_at", "finished_at")
    list_filter = ("kind", "status", "dry_run")
    search_fields = ("scope", "triggered_by")


@admin.register(SyncOperation)
class SyncOperationAdmin(admin.ModelAdmin):
    list_display = ("at", "run", "username", "operation", "target", "outcome")
    list_filter = ("outcome", "operation")
    search_fields = ("user_key", "username", "target", "error")
    raw_id_fields = ("run",)
