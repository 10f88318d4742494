"""What a message to an rcsync task may say: the arguments of every ``rcsync.*`` task, validated.

A task's arguments come from whoever can write a broker message or a django-celery-beat
``PeriodicTask`` row, and a staff user with only beat's permissions can do the latter. So no task
argument may widen what rcsync does (issue 14, H1: a hand-made periodic task with
``{"force": true, "dry_run": false}`` applied 53 destructive changes a dry run had refused).
``force`` is therefore never a task argument: it is honoured only from the admin's forced apply of a
reviewed preview (the task gets the preview's id and reads the authorisation from the database,
``django_hooks.previews``) and from ``manage.py rcsync reconcile --force``.

Used twice, with the same rules: by the task before it does anything (a refused message is recorded
as a failed run saying why) and by the beat admin's form, which refuses to save such a task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from django.utils.translation import gettext as _

RECONCILE = "rcsync.reconcile_all"
SYNC_USER = "rcsync.sync_user"
RELAY = "rcsync.relay_pending"
#: The kinds a reconcile task may record (a "change" run is one person's, never a full reconcile).
RECONCILE_KINDS = ("manual", "nightly", "drift")
_RECONCILE_KEYS = {"dry_run", "kind", "triggered_by", "preview", "force"}


class TaskArgumentsError(ValueError):
    """A task message or periodic task asks for something rcsync's tasks do not take; says what."""


@dataclass(frozen=True)
class ReconcileArgs:
    """A reconcile task's validated arguments. ``preview``: the admin applied that preview."""

    dry_run: bool = False
    kind: str = "manual"
    triggered_by: str = ""
    preview: int | None = None


def _force_refused() -> TaskArgumentsError:
    return TaskArgumentsError(_(
        "'force' cannot be given to a task (a scheduled or hand-made periodic task never forces): apply a "
        "reviewed preview with force in the admin (Reconcile everything), or run "
        "`manage.py rcsync reconcile --force`"))


def reconcile_args(args: Sequence[Any], kwargs: Mapping[str, Any], *, scheduled: bool = False) -> ReconcileArgs:
    """Pure: a reconcile task's positional and keyword arguments → ReconcileArgs, or the first problem.

    ``"force": false`` is accepted and means nothing (the nightly task created before this rule carries
    it); any other ``force`` is refused. ``scheduled`` (a periodic task being saved) also refuses
    ``preview``: applying a preview is a one-time act of the admin's Apply button.
    """
    if args:
        raise TaskArgumentsError(_("rcsync.reconcile_all takes no positional arguments (got %(count)d); "
                                   "use keyword arguments") % {"count": len(args)})
    unknown = sorted(set(kwargs) - _RECONCILE_KEYS, key=str)
    if unknown:
        raise TaskArgumentsError(_("rcsync.reconcile_all does not take %(keys)s; it takes dry_run, kind and "
                                   "triggered_by") % {"keys": ", ".join(repr(k) for k in unknown)})
    if "force" in kwargs and kwargs["force"] is not False:
        raise _force_refused()
    dry_run = kwargs.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise TaskArgumentsError(_("'dry_run' must be true or false, got %(value)r") % {"value": dry_run})
    kind = kwargs.get("kind", "manual")
    if kind not in RECONCILE_KINDS:
        raise TaskArgumentsError(_("'kind' must be one of %(kinds)s, got %(value)r") % {
            "kinds": ", ".join(RECONCILE_KINDS), "value": kind})
    triggered_by = kwargs.get("triggered_by", "")
    if not isinstance(triggered_by, str):
        raise TaskArgumentsError(_("'triggered_by' must be text, got %(value)r") % {"value": triggered_by})
    preview = kwargs.get("preview")
    if preview is not None:
        if scheduled:
            raise TaskArgumentsError(_("'preview' is set by the admin's Apply button only, never by a periodic task"))
        if isinstance(preview, bool) or not isinstance(preview, int) or preview <= 0:
            raise TaskArgumentsError(_("'preview' must be the id of a preview, got %(value)r") % {"value": preview})
        if dry_run:
            raise TaskArgumentsError(_("applying a preview cannot be a dry run"))
    return ReconcileArgs(dry_run=dry_run, kind=kind, triggered_by=triggered_by, preview=preview)


def check_task_call(task: str, args: Sequence[Any], kwargs: Mapping[str, Any], *, scheduled: bool = True) -> None:
    """Raise TaskArgumentsError if a message to rcsync task ``task`` with these arguments would be refused
    (the beat admin's form calls this on save). Tasks that are not rcsync's are not checked."""
    if not isinstance(args, (list, tuple)) or not isinstance(kwargs, Mapping):
        raise TaskArgumentsError(_("arguments must be a JSON list and keyword arguments a JSON object"))
    if task == RECONCILE:
        reconcile_args(args, kwargs, scheduled=scheduled)
    elif task == SYNC_USER:
        given = list(args) + [kwargs[k] for k in kwargs if k == "user_key"]
        if set(kwargs) - {"user_key"} or len(given) != 1 or not isinstance(given[0], (str, int)) or isinstance(given[0], bool):
            raise TaskArgumentsError(_("rcsync.sync_user takes exactly one argument, the site user's key"))
    elif task == RELAY:
        if args or kwargs:
            raise TaskArgumentsError(_("rcsync.relay_pending takes no arguments"))
