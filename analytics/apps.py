from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Aggregation, statistics, disclosure control and reports (built on the survey core)."""

    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from analytics.tasks import aggregation_on_close
        from surveys.signals import cycle_closed

        cycle_closed.connect(aggregation_on_close, dispatch_uid="analytics-aggregate-on-close")
