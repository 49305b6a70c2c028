"""Sealing the audit trail: committed events are chained in order after their transaction.

Appending (workflows.audit.trail) takes no lock, so audited writes never wait for one another.
The sealer gives each committed unsealed event, oldest first, its place `seq` in the chain,
the previous event's hash and its own hash. Only sealers take the chain's lock, and only for
the seal. The chain order is `seq`: an event committed late is sealed after the events
committed before it, whatever its id or time.
"""

import datetime as dt
import hashlib
import json
import logging

from django.conf import settings
from django.db import connection, transaction

from workflows.models import AuditEvent

logger = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same in every process that seals.
_PG_AUDIT_LOCK_KEY = 0x52464C57
SEAL_BATCH = 1000
SEAL_TASK = "workflows.audit.seal"
# An event still unsealed this long after its append means the sealer is not running.
SEAL_GRACE = dt.timedelta(minutes=5)


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


def event_hash(event: AuditEvent) -> str:
    """SHA-256 of the event's canonical form (which includes the previous event's hash)."""
    return hashlib.sha256(_canonical(event)).hexdigest()


def chain_head_locked() -> tuple[int, str]:
    """The chain's last (seq, hash), read under the chain's lock, which is held until the
    caller's transaction ends: only sealers (and bulk loaders that seal as they write) call it."""
    if connection.vendor == "postgresql":
        # Held by sealers only, until this batch commits; appends never take it.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_AUDIT_LOCK_KEY])
    # Read after the lock: the previous sealer's batch is committed and visible.
    head = (
        AuditEvent.objects.filter(seq__isnull=False)
        .order_by("-seq")
        .values_list("seq", "hash")
        .first()
    )
    return head or (0, GENESIS_HASH)


def _seal_batch(batch_size: int) -> int:
    with transaction.atomic():
        seq, prev_hash = chain_head_locked()
        pending = list(
            AuditEvent.objects.filter(seq__isnull=True).order_by("created_at", "pk")[:batch_size]
        )
        seals = []
        for event in pending:
            seq += 1
            event.prev_hash = prev_hash
            event.hash = prev_hash = event_hash(event)
            seals.append((seq, event.prev_hash, event.hash, event.pk))
        if seals:
            table = AuditEvent._meta.db_table
            # Raw SQL: the model refuses updates; the trigger lets exactly this one through.
            with connection.cursor() as cursor:
                cursor.executemany(
                    # bandit B608: the table is the model's own name; every value is a parameter.
                    f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s "  # noqa: S608 # nosec B608
                    "WHERE id = %s AND seq IS NULL",
                    seals,
                )
        return len(seals)


def audit_seal_pending(*, batch_size: int = SEAL_BATCH) -> int:
    """Seal every committed unsealed event into the chain, oldest first, in batches (each its
    own transaction); returns how many were sealed. Call it outside a transaction."""
    sealed = 0
    while True:
        count = _seal_batch(batch_size)
        sealed += count
        if count < batch_size:
            return sealed


def _seal_soon() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:  # the embedded setup and tests: no worker to ask
        try:
            audit_seal_pending()
        except Exception:  # noqa: BLE001 - the change is committed; the sweep seals later
            logger.exception("audit: sealing after commit failed; the sweep will seal")
        return
    from celery import current_app

    try:
        current_app.send_task(SEAL_TASK)  # by name: the domain never imports tasks/
    except Exception:  # noqa: BLE001 - the broker went away; the sweep seals later
        logger.warning("broker unavailable: the sweep will seal the audit events")


def audit_seal_after_commit() -> None:
    """Have the events appended in the current transaction sealed once it commits (asked once
    per transaction, however many events it appends)."""
    if any(entry[1] is _seal_soon for entry in connection.run_on_commit):
        return
    transaction.on_commit(_seal_soon)
