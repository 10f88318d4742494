from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from settings.accounts.models import User


@admin.register(User)
class SiteUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Site", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "is_staff")
    list_filter = ("role", "is_active", "is_staff", "is_superuser", "groups")
