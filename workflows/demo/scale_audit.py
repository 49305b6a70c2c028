"""Appending many audit events fast for the benchmark data set (workflows/demo/scale_history.py).

The events are chained with the real hash (workflows/audit/trail.py `event_hash`), in the
order given, after the chain's current head, so `verify_audit` passes afterwards. On PostgreSQL
they are written with COPY (about 10x bulk_create), elsewhere with bulk_create.

Everything that knows the audit table's columns is here (`COLUMNS`, `_row`). The events are
written sealed (workflows/audit/sealer.py): each with its `seq` after the chain's head, under
the sealer's lock, so the sealer has nothing left to do for them.
"""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from workflows.audit.sealer import chain_head_locked, event_hash
from workflows.models import AuditEvent


@dataclass(slots=True)
class HistoryEvent:
    """One event to append: what `event_hash` reads (the attributes of an AuditEvent)."""

    created_at: Any
    verb: str
    actor_id: int | None = None
    actor_name: str = ""
    case_id: int | None = None
    work_item_id: int | None = None
    reason: str = ""
    data: dict | None = None
    prev_hash: str = ""
    hash: str = ""
    seq: int = 0


COLUMNS = (
    "created_at",
    "actor_id",
    "actor_name",
    "verb",
    "case_id",
    "work_item_id",
    "reason",
    "data",
    "seq",
    "prev_hash",
    "hash",
)


def _row(event: HistoryEvent) -> tuple:
    return (
        event.created_at,
        event.actor_id,
        event.actor_name,
        event.verb,
        event.case_id,
        event.work_item_id,
        event.reason,
        json.dumps(event.data, ensure_ascii=False),
        event.seq,
        event.prev_hash,
        event.hash,
    )


def audit_append_bulk(events: list[HistoryEvent]) -> int:
    """Seal the events (in list order) into the chain after its current head as they are
    written (seq, prev_hash, hash), in one transaction holding the chain's lock, as the sealer
    does; returns how many."""
    if not events:
        return 0
    with transaction.atomic():
        seq, prev = chain_head_locked()
        for event in events:
            if event.data is None:
                event.data = {}
            # As the database gives it back (UTC), or the hash would not match when read.
            event.created_at = event.created_at.astimezone(dt.UTC)
            seq += 1
            event.seq = seq
            event.prev_hash = prev
            event.hash = prev = event_hash(event)  # type: ignore[arg-type]
        if connection.vendor == "postgresql":
            table = AuditEvent._meta.db_table
            with connection.cursor() as cursor:
                with cursor.cursor.copy(  # the psycopg cursor under Django's wrapper
                    f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
                ) as copy:
                    for event in events:
                        copy.write_row(_row(event))
        else:
            AuditEvent.objects.bulk_create(
                [
                    AuditEvent(**{**dict(zip(COLUMNS, _row(e), strict=True)), "data": e.data})
                    for e in events
                ],
                batch_size=2000,
            )
    return len(events)
