from django.db import migrations, models

# Appends no longer chain themselves: an event is inserted unsealed (seq, prev_hash and hash
# empty) and the sealer (workflows.audit.sealer) fills those three once. The trigger of 0004
# keeps refusing every other UPDATE, every DELETE and TRUNCATE; the one UPDATE it lets through
# gives an unsealed row its seal (or an event chained before this migration its seq, hashes
# unchanged), and changes nothing else.
SEAL_ONCE_SQL = """
CREATE OR REPLACE FUNCTION workflows_auditevent_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND NOT EXISTS (SELECT 1 FROM workflows_auditevent) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL
            AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
            AND (OLD.hash IS NULL OR (OLD.hash = NEW.hash AND OLD.prev_hash = NEW.prev_hash))
            AND (to_jsonb(OLD) - ARRAY['seq', 'prev_hash', 'hash'])
                = (to_jsonb(NEW) - ARRAY['seq', 'prev_hash', 'hash'])
        THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'workflows_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""

# 0004's function, for going back.
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
"""

# The events chained before this migration are sealed already: their seq is their pk order.
NUMBER_EXISTING_SQL = """
UPDATE workflows_auditevent SET seq = ranked.position
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS position FROM workflows_auditevent) AS ranked
WHERE ranked.id = workflows_auditevent.id AND workflows_auditevent.seq IS NULL
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
        ("workflows", "0023_cascade_job"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)),
                fields=["created_at", "id"],
                name="auditevent_unsealed",
            ),
        ),
        migrations.AddField(
            model_name="auditverification",
            name="pending",
            field=models.PositiveIntegerField(default=0),
        ),
        PostgreSQLOnly(SEAL_ONCE_SQL, APPEND_ONLY_SQL),
        migrations.RunSQL(NUMBER_EXISTING_SQL, migrations.RunSQL.noop),
    ]
