"""One Rocket.Chat account, one site person: ``AccountLink.rc_user_id`` becomes unique (issue 14 M3).

Links written before this could share an account (a targeted sync adopting an account already linked to
another person). Before the constraint is added, each such group keeps its oldest link (by ``created_at``,
then id: the person who had the account first); the others lose the account id and are marked ``error``
with a reason naming the account and the person who keeps it, so an admin reviews them. Their next sync
treats them as unlinked, and the adoption guard refuses the account (it is linked to someone else).
"""

from django.db import migrations, models
from django.db.models import Count

REASON = ("migration 0005: this link named Rocket.Chat account {rc_id} (@{rc_username}), which site user {keeper} "
          "was linked to first; one account belongs to one person, so this link was cleared. Review who owns "
          "the account, then sync this person again.")


def keep_oldest_link(apps, schema_editor):
    """Deterministic: the same rows win on every database, whatever order they were read in."""
    AccountLink = apps.get_model("django_hooks", "AccountLink")
    shared = (AccountLink.objects.exclude(rc_user_id="").values("rc_user_id").annotate(n=Count("id"))
              .filter(n__gt=1).values_list("rc_user_id", flat=True))
    for rc_id in sorted(shared):
        links = list(AccountLink.objects.filter(rc_user_id=rc_id).order_by("created_at", "id"))
        keeper = links[0]
        for link in links[1:]:
            link.last_error = REASON.format(rc_id=rc_id, rc_username=link.rc_username or "?", keeper=keeper.user_key)
            link.status = "error"
            link.rc_user_id = ""
            link.save(update_fields=["rc_user_id", "status", "last_error", "updated_at"])


class Migration(migrations.Migration):

    dependencies = [
        ("django_hooks", "0004_verbose_names"),
    ]

    operations = [
        migrations.RunPython(keep_oldest_link, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="accountlink",
            constraint=models.UniqueConstraint(condition=models.Q(("rc_user_id", ""), _negated=True),
                                               fields=("rc_user_id",), name="rcsync_link_one_person_per_account"),
        ),
    ]
