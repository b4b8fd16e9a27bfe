from django.urls import URLPattern, URLResolver, path

from analytics.reports import actions_overview, actions_views, views

app_name = "reports"

urlpatterns: list[URLPattern | URLResolver] = [
    path("overview/", views.overview, name="overview"),
    path("overview/actions/", actions_overview.actions_overview, name="actions_overview"),
    path("my-teams/", views.my_teams, name="my_teams"),
    path("units/<uuid:unit_id>/", views.unit, name="unit"),
    path("units/<uuid:unit_id>/heatmap/", views.unit_heatmap, name="heatmap"),
    # The action loop: managers of the unit only (404 for everyone else, HR included).
    path("units/<uuid:unit_id>/actions/new/", actions_views.action_new, name="action_new"),
    path("actions/<uuid:action_id>/edit/", actions_views.action_edit, name="action_edit"),
    path("actions/<uuid:action_id>/close/", actions_views.action_close_view, name="action_close"),
    path("actions/<uuid:action_id>/delete/", actions_views.action_delete_view, name="action_delete"),
    path("comments/", views.comments, name="comments"),
    path("instrument-health/", views.instrument_health, name="health"),
]
