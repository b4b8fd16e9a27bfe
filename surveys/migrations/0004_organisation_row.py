"""Installs the deployment's one Organisation row, with the default settings (k = 5, comments
at 10), so that Organisation.current() is a pure read and no page view ever writes.

A deployment that already has its row (created on first use by the old current()) keeps it and
its settings untouched. Reversing leaves the row: it holds the organisation's chosen settings.
"""

from django.db import migrations


def install_organisation(apps, schema_editor):
    Organisation = apps.get_model("surveys", "Organisation")
    if not Organisation.objects.exists():
        # pk 1, as the old get_or_create(pk=1) used, so existing scripts that name it still work.
        Organisation.objects.create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0003_instrument_v1_fixed_sd")]

    operations = [migrations.RunPython(install_organisation, migrations.RunPython.noop)]
