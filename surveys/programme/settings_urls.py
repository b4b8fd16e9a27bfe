"""Programme pages: settings (HR only)."""

from django.urls import URLPattern, URLResolver, path

from surveys.programme import settings_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", settings_views.settings_page, name="settings"),
    path("cycles/<str:month>/", settings_views.cycle_thresholds, name="cycle_thresholds"),
]
