from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Aggregation, statistics, disclosure control and reports (built on the survey core)."""

    name = "analytics"
    verbose_name = "Analytics"
