from django.apps import AppConfig


class DjangoHooksConfig(AppConfig):
    """rcsync's Django app: wires the change triggers once the app registry is ready."""

    name = "django_hooks"
    verbose_name = "Rocket.Chat sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # In-function: this module is imported while apps load; models (signals needs them) only now.
        from django_hooks import conf, signals

        conf.validate()  # a typo in RCSYNC stops the site now, not at 03:00
        signals.connect()
