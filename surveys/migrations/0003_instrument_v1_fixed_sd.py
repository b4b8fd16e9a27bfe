"""Adds to instrument version 1 the standard deviations that small cells' intervals use where
the organisation has fewer than 30 answers of its own (ANONYMITY R13).

Scoring constants only: no item, option or key of v1 changes, so answers already given mean what
they meant. Values as in surveys/instruments/v1.json, frozen here as a migration must be.
"""

from django.db import migrations

V1_FIXED_SD = {
    "psych_safety": 1.1,
    "voice": 1.6,
    "pressure": 1.6,
    "manager_modelling": 1.6,
    "trust": 1.1,
    "log_time_ratio": 0.35,
    "hours_saved": 6.0,
    "workslop_hours": 3.5,
    "workslop_hours_all": 2.5,
}


def add_fixed_sd(apps, schema_editor):
    InstrumentVersion = apps.get_model("surveys", "InstrumentVersion")
    for version in InstrumentVersion.objects.filter(version=1):
        if "fixed_sd" not in version.definition:
            version.definition = {**version.definition, "fixed_sd": V1_FIXED_SD}
            version.save(update_fields=["definition"])


class Migration(migrations.Migration):
    dependencies = [("surveys", "0002_instrument_v1")]

    operations = [migrations.RunPython(add_fixed_sd, migrations.RunPython.noop)]
