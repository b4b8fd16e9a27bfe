"""The cycles API's routes (HR only), mounted by analytics.api.urls at /api/v1/programme/cycles/."""

from django.urls import URLPattern, URLResolver, path

from analytics.api import programme_cycles

urlpatterns: list[URLPattern | URLResolver] = [
    path("", programme_cycles.ProgrammeCyclesView.as_view(), name="programme_cycles"),
    path("open/", programme_cycles.ProgrammeCycleOpenView.as_view(), name="programme_cycles_open"),
    path("remind/", programme_cycles.ProgrammeCycleRemindView.as_view(), name="programme_cycles_remind"),
    path("close/", programme_cycles.ProgrammeCycleCloseView.as_view(), name="programme_cycles_close"),
]
