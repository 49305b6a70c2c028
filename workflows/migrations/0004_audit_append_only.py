import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# PostgreSQL refuses UPDATE, DELETE and TRUNCATE on the audit table for every client, not only
# for the app. TRUNCATE of an already empty table destroys nothing and is let through, so that
# a test database can still be flushed (tests/conftest.py empties the table first).
# A superuser can still drop the trigger: verify_audit's hash chain is the second line.
APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION workflows_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND NOT EXISTS (SELECT 1 FROM workflows_auditevent) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'workflows_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER workflows_auditevent_append_only
    BEFORE UPDATE OR DELETE ON workflows_auditevent
    FOR EACH ROW EXECUTE FUNCTION workflows_auditevent_refuse_change();
CREATE TRIGGER workflows_auditevent_no_truncate
    BEFORE TRUNCATE ON workflows_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION workflows_auditevent_refuse_change();
"""

DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS workflows_auditevent_no_truncate ON workflows_auditevent;
DROP TRIGGER IF EXISTS workflows_auditevent_append_only ON workflows_auditevent;
DROP FUNCTION IF EXISTS workflows_auditevent_refuse_change();
"""


class PostgreSQLOnly(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite has no such trigger language)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0003_deadlines"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("checked_at", models.DateTimeField()),
                ("ok", models.BooleanField()),
                ("count", models.PositiveIntegerField(help_text="Events checked")),
                ("broken_event_id", models.PositiveBigIntegerField(blank=True, null=True)),
                ("problem", models.TextField(blank=True)),
                ("head_event_id", models.PositiveBigIntegerField(blank=True, null=True)),
                ("head_hash", models.CharField(blank=True, max_length=64)),
                (
                    "run_by",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty when run from the command line",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-checked_at", "-pk"],
                "get_latest_by": ["checked_at", "pk"],
            },
        ),
        PostgreSQLOnly(APPEND_ONLY_SQL, DROP_APPEND_ONLY_SQL),
    ]
