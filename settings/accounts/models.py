"""The bundled site's user model: Django's user plus the site role of DESIGN.md."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MODERATOR = "moderator", "Moderator"
        STORE_OWNER = "store_owner", "Store owner"
        STORE_ADMIN = "store_admin", "Store admin"
        USER = "user", "User"

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.USER)
