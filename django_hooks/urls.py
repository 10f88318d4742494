"""rcsync's URLs for a site's urlconf: ``path("rcsync/", include("django_hooks.urls"))``."""

from django.urls import path

from django_hooks import metrics

app_name = "rcsync"
urlpatterns = [path("metrics", metrics.view, name="metrics")]
