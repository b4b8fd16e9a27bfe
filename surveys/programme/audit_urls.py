"""Programme pages: audit (HR only)."""

from django.urls import URLPattern, URLResolver, path

from surveys.programme import audit_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", audit_views.audit_log, name="audit"),
    path("export.csv", audit_views.audit_csv, name="audit_csv"),
]
