from __future__ import annotations

from django.db import models

from surveys.instrument import Instrument


class InstrumentVersion(models.Model):
    """A frozen instrument definition; a cycle is bound to the version it opened with."""

    version = models.PositiveSmallIntegerField(unique=True)
    definition = models.JSONField(help_text="Items, options, skip logic and scoring keys.")

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Instrument v{self.version}"

    @property
    def instrument(self) -> Instrument:
        return Instrument(self.definition)

    @classmethod
    def latest(cls) -> InstrumentVersion:
        latest = cls.objects.order_by("-version").first()
        if latest is None:
            raise cls.DoesNotExist("No instrument version is installed: run `python manage.py migrate`.")
        return latest
