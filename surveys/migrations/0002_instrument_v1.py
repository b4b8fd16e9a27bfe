"""Installs instrument version 1 as data. Its definition file is frozen: a change to the
instrument is a new version (v2.json and a new migration), never an edit of v1."""

from django.db import migrations

from surveys.instrument import load_definition


def install_v1(apps, schema_editor):
    InstrumentVersion = apps.get_model("surveys", "InstrumentVersion")
    InstrumentVersion.objects.update_or_create(version=1, defaults={"definition": load_definition(1)})


def remove_v1(apps, schema_editor):
    apps.get_model("surveys", "InstrumentVersion").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("surveys", "0001_initial")]

    operations = [migrations.RunPython(install_v1, remove_v1)]
