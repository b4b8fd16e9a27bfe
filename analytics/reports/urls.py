from django.urls import URLPattern, URLResolver, path

from analytics.reports import views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
    path("overview/", views.overview, name="overview"),
    path("my-teams/", views.my_teams, name="my_teams"),
    path("units/<uuid:unit_id>/", views.unit, name="unit"),
    path("units/<uuid:unit_id>/heatmap/", views.unit_heatmap, name="heatmap"),
    path("comments/", views.comments, name="comments"),
    path("instrument-health/", views.instrument_health, name="health"),
]
