"""The health endpoints (config.health), mounted at /healthz/ by config/urls.py."""

from django.urls import path

from config import health

app_name = "health"

urlpatterns = [
    path("", health.web, name="web"),
    path("worker/", health.worker, name="worker"),
    path("beat/", health.beat, name="beat"),
]
