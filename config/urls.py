from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("", include("surveys.urls")),
    path("", include("analytics.reports.urls")),
    path("exports/", include("analytics.exports.urls")),
    path("api/", include("analytics.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

handler404 = "surveys.views.not_found"
