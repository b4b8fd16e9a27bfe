"""The API's routes, mounted at /api/ by config.urls: the v1 reads, the exports API (its own
module), HR's roster import, the action loop, the token page, the schema and its docs. Anything
else under /api/ is a JSON 404."""

from django.urls import URLPattern, URLResolver, include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from analytics.api import actions, programme_roster, tokens, views
from analytics.api.errors import api_not_found

app_name = "api"

urlpatterns: list[URLPattern | URLResolver] = [
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/cycles/", views.CyclesView.as_view(), name="cycles"),
    path("v1/units/", views.UnitsView.as_view(), name="units"),
    path("v1/cells/", views.CellsView.as_view(), name="cells"),
    path("v1/flags/", views.FlagsView.as_view(), name="flags"),
    path("v1/comments/", views.CommentsView.as_view(), name="comments"),
    path("v1/programme/cycles/", include("analytics.api.programme_cycles_urls")),
    path("v1/exports/", include("analytics.exports.api_urls")),
    path("v1/programme/roster/preview/", programme_roster.RosterPreviewView.as_view(), name="roster_preview"),
    path("v1/programme/roster/apply/", programme_roster.RosterApplyView.as_view(), name="roster_apply"),
    path("v1/actions/", actions.ActionsView.as_view(), name="actions"),
    path("v1/actions/<uuid:action_id>/", actions.ActionView.as_view(), name="action"),
    path("v1/actions/<uuid:action_id>/close/", actions.ActionCloseView.as_view(), name="action_close"),
    path("tokens/", tokens.tokens_page, name="tokens"),
    path("tokens/new/", tokens.token_create, name="token_create"),
    path("tokens/revoke/", tokens.token_revoke, name="token_revoke"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Last: a path no route above answers (a typo, a missing trailing slash) gets JSON, not HTML.
    # [\s\S], not ".": a path holding a line break (%0A), which no route's converter takes, must
    # get this JSON 404 too, not the site's HTML page.
    re_path(r"^(?P<rest>[\s\S]*)$", api_not_found, name="not_found"),
]
