from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "analytics.exports"
    label = "exports"
    verbose_name = "Exports"
