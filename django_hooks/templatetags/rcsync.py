"""Template filters of the task UI: codes stored in runs and summaries, said in the reader's language.

    {% load rcsync %} {{ issue.status|rcsync_result }} {{ group.kind|rcsync_kind }}
"""

from __future__ import annotations

from django import template

from django_hooks.admin.presenters import kind_label, result_label

register = template.Library()


@register.filter
def rcsync_result(status: str) -> str:
    """A person's sync outcome code ("synced", "conflict", ...) as a label."""
    return result_label(str(status))


@register.filter
def rcsync_kind(kind: str) -> str:
    """An operation kind code ("create_user", ...) as a label."""
    return kind_label(str(kind))
