"""URLs of the bundled site: the admin, where rcsync's models live, and rcsync's metrics endpoint."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("rcsync/", include("django_hooks.urls")),  # /rcsync/metrics (Prometheus)
]
