"""The --cycle YYYY-MM option shared by the analytics commands."""

from django.core.management.base import CommandError

from surveys.models import Cycle
from surveys.services.cycles import CycleError, parse_month


def cycle_from_option(raw: str, *, fix: str) -> Cycle:
    """The cycle a --cycle value names, or a CommandError naming the option and `fix`."""
    try:
        month = parse_month(raw)
    except CycleError as error:
        raise CommandError(str(error).replace("--month", "--cycle")) from error
    cycle = Cycle.objects.filter(month=month).select_related("instrument_version").first()
    if cycle is None:
        raise CommandError(f"There is no {raw} cycle; --cycle must name {fix}")
    return cycle
