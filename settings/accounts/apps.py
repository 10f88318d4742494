from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The bundled site's own accounts app (custom user model)."""

    name = "settings.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
