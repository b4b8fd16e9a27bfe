"""Programme pages: one cycle's comment review, release and redaction (HR only)."""

from django.urls import URLPattern, URLResolver, path

from surveys.programme import comments_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", comments_views.cycle_comments, name="cycle_comments"),
    path("release/", comments_views.cycle_comments_release, name="cycle_comments_release"),
    path("redact/", comments_views.cycle_comment_redact, name="cycle_comment_redact"),
]
