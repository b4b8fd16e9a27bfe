from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Aggregation, statistics, disclosure control and reports (built on the survey core)."""

    name = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from analytics.job.tasks import (
            aggregation_on_close,
            reaggregation_on_k_raised,
            rerelease_on_comment_threshold_raised,
        )
        from surveys.signals import cycle_closed, cycle_comment_threshold_raised, cycle_k_raised

        cycle_closed.connect(aggregation_on_close, dispatch_uid="analytics-aggregate-on-close")
        cycle_k_raised.connect(reaggregation_on_k_raised, dispatch_uid="analytics-reaggregate-on-k-raised")
        cycle_comment_threshold_raised.connect(
            rerelease_on_comment_threshold_raised, dispatch_uid="analytics-rerelease-on-comment-threshold-raised"
        )

        from analytics.job.signals import results_stored
        from analytics.reports.tasks import announcement_on_results

        results_stored.connect(announcement_on_results, dispatch_uid="analytics-announce-results")
