from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoHooksConfig(AppConfig):
    """rcsync's Django app: wires the change triggers and the system checks once the app registry is ready."""

    name = "django_hooks"
    verbose_name = _("Rocket.Chat sync")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # In-function: this module is imported while apps load; models (signals needs them) only now.
        from django.core import checks as django_checks

        from django_hooks import checks, signals

        # A typo in RCSYNC is reported by `manage.py check` (rcsync.E001...) and makes every sync refuse;
        # it no longer stops the site, whose changes keep being recorded meanwhile.
        django_checks.register(checks.check_settings, checks.TAG)
        django_checks.register(checks.check_deployment, checks.TAG, deploy=True)
        signals.connect()
