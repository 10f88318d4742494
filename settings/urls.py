"""URLs of the bundled site: just the admin, where rcsync's models live."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
