from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Aggregation, statistics, disclosure control and reports (built on the survey core)."""

    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from analytics.job.tasks import aggregation_on_close, reaggregation_on_k_change
        from surveys.models import Cycle
        from surveys.signals import cycle_closed

        cycle_closed.connect(aggregation_on_close, dispatch_uid="analytics-aggregate-on-close")
        post_save.connect(reaggregation_on_k_change, sender=Cycle, dispatch_uid="analytics-reaggregate-on-k")
