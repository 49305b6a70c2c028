"""Reports belong to an organisation (issue 15, one rule of reach): a completion report to its
case's, a programme report to the federation whose programme it covers. Existing programme
reports covered the national federation's programme, so they become the national one's.
Also an index for reach by message: the cases a person was sent a message about."""

import django.db.models.deletion
from django.db import migrations, models


def reports_organisation_fill(apps, schema_editor):
    Report = apps.get_model("workflows", "Report")
    Organisation = apps.get_model("workflows", "Organisation")
    Case = apps.get_model("workflows", "Case")
    if not Report.objects.exists():
        return
    national = Organisation.objects.filter(parent__isnull=True).order_by("pk").first()
    for case_id, organisation_id in Case.objects.filter(
        pk__in=Report.objects.filter(case__isnull=False).values("case_id")
    ).values_list("pk", "organisation_id"):
        Report.objects.filter(case_id=case_id).update(organisation_id=organisation_id)
    if national is not None:
        Report.objects.filter(organisation__isnull=True).update(organisation=national)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0012_sweep_faults_wider_counts_cache_table"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="organisation",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="workflows.organisation",
            ),
        ),
        migrations.RunPython(reports_organisation_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="report",
            name="organisation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="workflows.organisation",
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["recipient", "case"], name="notification_recipient_case"),
        ),
    ]
