from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from analytics.reports.views import home
from surveys.services.accounts import RosterPasswordResetForm

urlpatterns = [
    path("", home, name="home"),
    path("healthz/", include("config.health_urls")),
    path("", include("surveys.urls")),
    path("", include("analytics.reports.urls")),
    path("exports/", include("analytics.exports.urls")),
    path("programme/", include("surveys.programme.urls")),
    path("api/", include("analytics.api.urls")),
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(
            form_class=RosterPasswordResetForm,
            extra_context={"timeout_days": settings.PASSWORD_RESET_TIMEOUT // 86400},
        ),
        name="password_reset",
    ),
    # Login, logout, password change and the rest of the reset flow, with Django's views.
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "surveys.views.not_found"
