"""Database helpers that several concerns need in exactly the same form."""

from django.db import IntegrityError, transaction


def insert_skipping_conflicts(model, rows: list, *, batch_size: int | None = None) -> list:
    """Insert `rows` in one statement; if a unique constraint refuses it (a concurrent writer
    got there first), insert each row on its own and skip those that conflict. Returns the
    rows inserted, with their ids."""
    try:
        with transaction.atomic():
            return model.objects.bulk_create(rows, batch_size=batch_size)
    except IntegrityError:
        inserted = []
        for row in rows:
            # A batch that went in before the refusal was rolled back with it: insert afresh.
            row.pk, row._state.adding = None, True
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                continue
            inserted.append(row)
        return inserted
