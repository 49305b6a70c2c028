"""Writing and verifying the hash-chained audit trail."""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEvent

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every process that appends.
_PG_AUDIT_LOCK_KEY = 0x52464C57


def _canonical(event: AuditEvent) -> bytes:
    payload = {
        "created_at": event.created_at.isoformat(),
        "actor": event.actor_id,
        "actor_name": event.actor_name,
        "verb": event.verb,
        "case": event.case_id,
        "work_item": event.work_item_id,
        "reason": event.reason,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _json_value(value):
    # Dates and times as ISO 8601, so that readers can parse them back.
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of the event's canonical form (which includes the previous event's hash)."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def audit_record(
    *, verb: str, actor=None, case=None, work_item=None, reason: str = "", data=None
) -> AuditEvent:
    """Append one event to the chain; must run inside the transaction that made the change."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Appends are serialised so that two writers never chain to the same predecessor.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_AUDIT_LOCK_KEY])
        last = AuditEvent.objects.order_by("-pk").values_list("hash", flat=True).first()
        event = AuditEvent(
            created_at=timezone.now(),
            actor=actor if actor is not None and actor.is_authenticated else None,
            actor_name=actor.get_username() if actor is not None and actor.is_authenticated else "",
            verb=verb,
            case=case,
            work_item=work_item,
            reason=reason or "",
            data=json.loads(json.dumps(data or {}, default=_json_value)),
            prev_hash=last or GENESIS_HASH,
        )
        event.hash = event_hash(event)
        event.save(force_insert=True)
        return event


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    count: int
    broken_event_id: int | None = None
    problem: str = ""


def audit_verify(*, batch_size: int = 5000) -> ChainCheck:
    """Walk the chain in order; returns the first event whose link or hash does not match."""
    expected_prev = GENESIS_HASH
    count = 0
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=batch_size):
        count += 1
        if event.prev_hash != expected_prev:
            return ChainCheck(False, count, event.pk, "prev_hash does not match the event before")
        if event_hash(event) != event.hash:
            return ChainCheck(False, count, event.pk, "content does not match its hash")
        expected_prev = event.hash
    return ChainCheck(True, count)
