"""Trigram indexes for the search box (issue 20): `icontains` is `UPPER(col::text) LIKE
UPPER('%word%')` on PostgreSQL, which no btree can answer; a pg_trgm GIN index on the same
expressions can (words of three characters or more). People (117,000 accounts at national
scale) and organisations are searched this way; measures are 30 rows. A no-op on SQLite."""

from django.db import migrations

INDEXES = {
    "auth_user_search_trgm": ("auth_user", ("username", "first_name", "last_name")),
    "workflows_organisation_search_trgm": (
        "workflows_organisation",
        ("code", "title_en", "title_zh"),
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, columns) in INDEXES.items():
        expressions = ", ".join(f"UPPER({column}::text) gin_trgm_ops" for column in columns)
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({expressions})"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("workflows", "0027_scoreentry_department_period"),
    ]

    operations = [migrations.RunPython(create_indexes, drop_indexes)]
