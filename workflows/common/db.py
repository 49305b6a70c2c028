"""Database helpers that several concerns need in exactly the same form."""

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Func


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


class HashedIn(Func):
    """`(<condition>) IS TRUE`, e.g. a case among a bound's cases: the same test, which
    PostgreSQL runs as a hashed subplan instead of turning it into a join that looks each row's
    case and organisation up (9,000 index probes for one page of a province's 1.26 M-event
    audit trail)."""

    template = "(%(expressions)s) IS TRUE"
    output_field = BooleanField()
