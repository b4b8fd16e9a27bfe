"""Programme pages: the cycle calendar and its actions, and the retry of a failed aggregation
(HR only)."""

from django.urls import URLPattern, URLResolver, path

from surveys.programme import cycles_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", cycles_views.cycles_page, name="cycles"),
    path("open/", cycles_views.cycle_open_view, name="cycle_open"),
    path("remind/", cycles_views.cycle_remind_view, name="cycle_remind"),
    path("close/", cycles_views.cycle_close_view, name="cycle_close"),
    path("closing-date/", cycles_views.cycle_closing_date_view, name="cycle_closing_date"),
    path("<str:month>/retry/", cycles_views.cycle_aggregation_retry_view, name="cycle_aggregation_retry"),
]
