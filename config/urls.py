from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from analytics.reports.views import home
from config.password_reset import ThrottledPasswordResetView
from surveys.services.accounts import SignInForm, WordedSetPasswordForm

urlpatterns = [
    path("", home, name="home"),
    path("healthz/", include("config.health_urls")),
    path("", include("surveys.urls")),
    path("", include("analytics.reports.urls")),
    path("exports/", include("analytics.exports.urls")),
    path("programme/", include("surveys.programme.urls")),
    path("api/", include("analytics.api.urls")),
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/login/", auth_views.LoginView.as_view(authentication_form=SignInForm), name="login"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(form_class=WordedSetPasswordForm),
        name="password_reset_confirm",
    ),
    # Login, logout, password change and the rest of the reset flow, with Django's views.
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "config.request_limits.bad_request"
handler404 = "surveys.views.not_found"
