from django.apps import AppConfig


class AnonymousConfig(AppConfig):
    name = "surveys.anonymous"
    label = "anonymous"
    verbose_name = "Anonymous responses"
