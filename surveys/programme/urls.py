from django.urls import URLPattern, URLResolver, include, path

from surveys.programme.home import programme_home

app_name = "programme"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", programme_home, name="home"),
    path("roster/", include("surveys.programme.roster_urls")),
    path("audit/", include("surveys.programme.audit_urls")),
    path("settings/", include("surveys.programme.settings_urls")),
    path("cycles/", include("surveys.programme.cycles_urls")),
    path("cycles/<str:month>/comments/", include("surveys.programme.comments_urls")),
]
