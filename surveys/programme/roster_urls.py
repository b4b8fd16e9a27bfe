"""Programme pages: roster (HR only)."""

from django.urls import URLPattern, URLResolver, path

from surveys.programme import roster_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", roster_views.roster, name="roster"),
    path("apply/", roster_views.roster_apply_view, name="roster_apply"),
]
