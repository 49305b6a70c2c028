import datetime as dt

from django.db import migrations, models
from django.db.models import F

# As workflows.escalation.alert_floor: 3 calendar days per working day of the longest reminder
# notice, plus 15 (the reasoning is by those constants); 3 is the default policy's notice.
DAYS_PER_NOTICE_DAY, SLACK_DAYS, DEFAULT_NOTICE = 3, 15, 3


def set_floors(apps, schema_editor):
    """Every open task starts at its floor: the sweep then stores its exact next alert."""
    policies = apps.get_model("workflows", "EscalationPolicy").objects
    notices = {
        m: max(days or [0])
        for m, days in policies.values_list("measure_id", "reminder_days_before")
    }
    notices.setdefault(None, DEFAULT_NOTICE)
    floor = dt.timedelta(days=DAYS_PER_NOTICE_DAY * max(notices.values()) + SLACK_DAYS)
    apps.get_model("workflows", "WorkItem").objects.filter(
        status="open", due_at__isnull=False
    ).update(next_alert_at=F("due_at") - floor)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0007_cascade"),
    ]

    operations = [
        migrations.AddField(
            model_name="workitem",
            name="next_alert_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("paused_at__isnull", True), ("status", "open")),
                fields=["next_alert_at", "task"],
                name="workitem_alert_due",
            ),
        ),
        migrations.RunPython(set_floors, migrations.RunPython.noop),
    ]
