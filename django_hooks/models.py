"""What the site remembers about syncing its people to Rocket.Chat.

Users are referred to by `user_key` (the site user's primary key as text)
rather than a foreign key wherever the row must outlive the user: a deleted
site user still has a Rocket.Chat account to deactivate, and the pending
change that says so must survive the delete. Text keys also fit user models
with UUID primary keys.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

#: The admin task UI's two permissions (checked by django_hooks.admin.permissions), declared on
#: SyncRun so `migrate` creates them like any model permission. Codenames and content type are the
#: ones the earlier post_migrate hook used, so an existing install keeps its rows and grants.
VIEW_SYNC_STATE = "view_sync_state"
START_RESYNC = "start_resync"
PERMISSIONS = [
    (VIEW_SYNC_STATE, _("Can view Rocket.Chat sync state (accounts, runs, plans, audit)")),
    (START_RESYNC, _("Can start Rocket.Chat resyncs and reconciles")),
]


class AccountLink(models.Model):
    """The bond between one site user and one Rocket.Chat account (follow the immutable id)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SYNCED = "synced", _("Synced")
        ERROR = "error", _("Error")
        CONFLICT = "conflict", _("Conflict")
        DEACTIVATED = "deactivated", _("Deactivated")

    user_key = models.CharField(_("site user key"), max_length=64, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("site user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rocketchat_link",
    )
    site_username = models.CharField(_("site username"), max_length=255, blank=True, default="")
    rc_user_id = models.CharField(_("Rocket.Chat user id"), max_length=64, blank=True, default="", db_index=True)
    rc_username = models.CharField(_("Rocket.Chat username"), max_length=255, blank=True, default="")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    last_synced_at = models.DateTimeField(_("last synced at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    created_by_bridge = models.BooleanField(_("created by rcsync"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Rocket.Chat account link")
        verbose_name_plural = _("Rocket.Chat account links")
        ordering = ["user_key"]
        constraints = [
            # One Rocket.Chat account belongs to one site person (issue 14 M3): a second link to the same
            # account would let two people re-shape it. Empty = no account yet, any number of those.
            models.UniqueConstraint(fields=["rc_user_id"], condition=~models.Q(rc_user_id=""),
                                    name="rcsync_link_one_person_per_account"),
        ]

    def __str__(self) -> str:
        return f"{self.site_username or self.user_key} → {self.rc_username or '(no account)'} [{self.status}]"


class PendingSync(models.Model):
    """A committed change not yet applied to Rocket.Chat: written in the same transaction as the change.

    One row per user. `generation` grows with every new change, so a worker that
    synced generation g deletes the row only if nothing newer arrived meanwhile.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        RETRYING = "retrying", _("Waiting to retry")

    user_key = models.CharField(_("site user key"), max_length=64, unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    generation = models.PositiveIntegerField(_("generation"), default=1)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    first_requested_at = models.DateTimeField(_("first requested at"))
    last_requested_at = models.DateTimeField(_("last requested at"))
    # NULL: the enqueue after commit failed (broker down); the relay picks it up.
    enqueued_at = models.DateTimeField(_("enqueued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    drift = models.BooleanField(_("drift repair"), default=False, help_text=_("Requested by the Rocket.Chat change feed."))

    class Meta:
        verbose_name = _("pending sync")
        verbose_name_plural = _("pending syncs")
        db_table = "django_hooks_pendingsync"
        ordering = ["first_requested_at"]
        indexes = [models.Index(fields=["state", "enqueued_at"], name="django_hook_pending_relay")]

    def __str__(self) -> str:
        return f"user {self.user_key} ({self.state}, gen {self.generation}): {self.reason}"


class SyncRun(models.Model):
    """One execution of the sync: a user's change, a manual resync, the nightly run or a drift repair."""

    class Kind(models.TextChoices):
        CHANGE = "change", _("Change")
        MANUAL = "manual", _("Manual")
        NIGHTLY = "nightly", _("Nightly")
        DRIFT = "drift", _("Drift")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        PARTIAL = "partial", _("Partly failed")
        FAILED = "failed", _("Failed")
        REFUSED = "refused", _("Refused (safety limit)")
        PLANNED = "planned", _("Planned (dry run)")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, db_index=True)
    scope = models.CharField(_("scope"), max_length=255, default="all", help_text=_("'all' or the site user keys."))
    dry_run = models.BooleanField(_("dry run"), default=False)
    force = models.BooleanField(_("forced"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING, db_index=True)
    progress_done = models.PositiveIntegerField(_("operations done"), default=0)
    progress_total = models.PositiveIntegerField(_("operations in total"), default=0)
    counts = models.JSONField(_("counts"), default=dict, blank=True, help_text=_("Operations per kind."))
    summary = models.JSONField(_("summary"), default=dict, blank=True)
    triggered_by = models.CharField(_("started by"), max_length=255, blank=True, default="")
    error = models.TextField(_("error"), blank=True, default="")
    started_at = models.DateTimeField(_("started at"), auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = PERMISSIONS
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")

    def __str__(self) -> str:
        return f"{self.kind} run #{self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncOperation(models.Model):
    """Audit trail: one row per operation the sync applied (or tried to) in Rocket.Chat."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", _("Applied")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="operations", verbose_name=_("run"))
    user_key = models.CharField(_("site user key"), max_length=64, blank=True, default="", db_index=True)
    username = models.CharField(_("username"), max_length=255, blank=True, default="")
    operation = models.CharField(_("operation"), max_length=64)
    target = models.CharField(_("target"), max_length=255, blank=True, default="")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True, default="")
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        # The admin's index lists the model by its plural: the trail, not "audit entries".
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.operation} {self.target} for {self.username or self.user_key}: {self.outcome}"
