from django.urls import URLPattern, URLResolver, include, path

app_name = "programme"

urlpatterns: list[URLPattern | URLResolver] = [
    path("roster/", include("surveys.programme.roster_urls")),
    path("audit/", include("surveys.programme.audit_urls")),
    path("settings/", include("surveys.programme.settings_urls")),
]
