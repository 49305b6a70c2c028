"""Writing and verifying the hash-chained audit trail (sealing is workflows.audit.sealer)."""

import datetime as dt
import json
import logging
from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, transaction
from django.utils import timezone

from workflows.audit.sealer import (
    GENESIS_HASH,
    SEAL_GRACE,
    audit_seal_after_commit,
    audit_seal_pending,
    event_hash,
)
from workflows.common import change_stamp
from workflows.common import reach as access
from workflows.models import AuditEvent, AuditVerification

logger = logging.getLogger(__name__)

# What an audit event shows outside the database: the API's fields and the CSV's columns.
AUDIT_EVENT_FIELDS = [
    "id",
    "created_at",
    "verb",
    "actor",
    "case",
    "measure",
    "task",
    "step",
    "reason",
    "data",
    "seq",
    "prev_hash",
    "hash",
]


def _json_value(value):
    # Dates and times as ISO 8601, so that readers can parse them back.
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _event(
    *,
    verb: str,
    actor=None,
    case=None,
    work_item=None,
    reason: str = "",
    data=None,
    created_at,
    case_id: int | None = None,
    work_item_id: int | None = None,
) -> AuditEvent:
    authenticated = actor is not None and actor.is_authenticated
    event = AuditEvent(
        created_at=created_at,
        actor=actor if authenticated else None,
        actor_name=actor.get_username() if authenticated else "",
        verb=verb,
        case=case,
        work_item=work_item,
        reason=reason or "",
        data=json.loads(json.dumps(data or {}, default=_json_value)),
    )
    if authenticated and work_item is not None:  # a substitute's act (workflows/substitutes.py)
        from workflows.common.substitution import on_behalf_of

        behalf = getattr(work_item, "_reformflow_on_behalf", None)
        if behalf is None:
            behalf = on_behalf_of(actor, work_item)
        if behalf:
            event.data["on_behalf_of"] = behalf
    # By id, for batches whose rows carry ids only (loading or building each case costs).
    if case is None and case_id is not None:
        event.case_id = case_id
    if work_item is None and work_item_id is not None:
        event.work_item_id = work_item_id
    return event


def audit_record(
    *, verb: str, actor=None, case=None, work_item=None, reason: str = "", data=None
) -> AuditEvent:
    """Append one event, unsealed and without a lock; must run inside the transaction that
    made the change. It is sealed into the chain after that transaction commits."""
    event = _event(
        verb=verb,
        actor=actor,
        case=case,
        work_item=work_item,
        reason=reason,
        data=data,
        created_at=timezone.now(),
    )
    with transaction.atomic():
        # Cached pages go stale once this commits (those of the case's federations, if any).
        change_stamp.bump_on_commit(verb, cases=[case.pk if case is not None else None])
        change_stamp.trail_bump_on_commit()  # the audit desk shows every verb
        event.save(force_insert=True)
        audit_seal_after_commit()
    return event


def audit_record_many(events: list[dict]) -> list[AuditEvent]:
    """Append several events (each the keyword arguments of audit_record, or `case_id` and
    `work_item_id` instead of the objects) in their order with one insert, unsealed; must run
    inside the transaction that made the changes."""
    if not events:
        return []
    now = timezone.now()
    # One time for all, so the sealer's (created_at, id) order is their insert order.
    rows = [_event(**fields, created_at=now) for fields in events]
    with transaction.atomic():
        change_stamp.bump_on_commit(  # pages cached go stale (of the cases' federations)
            *(e["verb"] for e in events), cases=[event.case_id for event in rows]
        )
        change_stamp.trail_bump_on_commit()
        created = AuditEvent.objects.bulk_create(rows, batch_size=1000)
        audit_seal_after_commit()
    return created


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    count: int
    broken_event_id: int | None = None
    problem: str = ""
    # The last event found intact (the chain's head when ok).
    head_event_id: int | None = None
    head_hash: str = ""
    # Events appended but not sealed yet (the sealer runs after each commit and in the sweep).
    pending: int = 0
    # Events the check sealed itself before walking the chain (they were waiting for the sealer).
    sealed: int = 0


def _walk_chain(batch_size: int) -> ChainCheck:
    expected_prev = GENESIS_HASH
    count = 0
    head: AuditEvent | None = None
    sealed = AuditEvent.objects.filter(seq__isnull=False).order_by("seq")
    for event in sealed.iterator(chunk_size=batch_size):
        count += 1
        problem = ""
        if event.prev_hash != expected_prev:
            problem = "prev_hash does not match the event before (an event was removed or altered)"
        elif event_hash(event) != event.hash:
            problem = "content does not match its hash (the row was edited)"
        if problem:
            return ChainCheck(
                False,
                count,
                event.pk,
                problem,
                head_event_id=head.pk if head else None,
                head_hash=head.hash or "" if head else "",
            )
        expected_prev = event.hash
        head = event
    return ChainCheck(
        True,
        count,
        head_event_id=head.pk if head else None,
        head_hash=head.hash or "" if head else "",
    )


def _seal_waiting() -> int:
    """Seal the events that are committed and waiting, through the sealer (in order, as the
    sweep does); an event it cannot seal stays unsealed, for the check to report."""
    try:
        return audit_seal_pending()
    except DatabaseError:  # e.g. the trigger refused a seal: the stale event is reported below
        logger.exception("audit: sealing before the check failed")
        return 0


def audit_verify(*, batch_size: int = 5000, now: dt.datetime | None = None) -> ChainCheck:
    """Seal what is committed and sealable first (a seal merely late is not a break: no worker
    ran, or a test's transaction never commits), then walk the sealed chain in seq order and
    return the first event whose link or hash does not match; a sound chain is still broken if
    an event older than SEAL_GRACE is unsealed (the sealer could not seal it). Call it outside
    a transaction: inside one the chain's lock is held until that transaction ends."""
    sealed = _seal_waiting()
    check = replace(_walk_chain(batch_size), sealed=sealed)
    unsealed = AuditEvent.objects.filter(seq__isnull=True)
    pending = unsealed.count()
    if not check.ok or not pending:
        return replace(check, pending=pending)
    cutoff = (now or timezone.now()) - SEAL_GRACE
    stale = unsealed.filter(created_at__lt=cutoff).order_by("created_at", "pk")
    oldest = stale.values_list("pk", flat=True).first()
    if oldest is None:
        return replace(check, pending=pending)
    minutes = int(SEAL_GRACE.total_seconds() // 60)
    return replace(
        check,
        ok=False,
        broken_event_id=oldest,
        problem=f"{stale.count()} events older than {minutes} minutes are not sealed into the "
        "chain and could not be (an event was unsealed, or the database refused the seal)",
        pending=pending,
    )


def _check_last_head_kept(check: ChainCheck) -> ChainCheck:
    """A sound chain can still have lost its newest events, or been rewritten with fresh hashes:
    the head recorded by the last successful run must still be there, unchanged."""
    last = AuditVerification.objects.filter(ok=True, head_event_id__isnull=False).first()
    if last is None:
        return check
    kept = AuditEvent.objects.filter(pk=last.head_event_id).values_list("hash", flat=True).first()
    if kept == last.head_hash:
        return check
    what = "is missing" if kept is None else "has a different hash"
    return ChainCheck(
        False,
        check.count,
        last.head_event_id,
        f"the newest event at the verification of {last.checked_at.isoformat()} {what} "
        "(the trail was cut or rewritten)",
        head_event_id=check.head_event_id,
        head_hash=check.head_hash,
        pending=check.pending,
        sealed=check.sealed,
    )


def audit_verification_run(*, by=None) -> AuditVerification:
    """Verify the chain (sealing what waits first), store the result and audit the run, with how
    many events it sealed; `by` is None from the command line."""
    if by is not None and not access.sees_everything(by):
        raise PermissionDenied("Only auditors and coordinators can verify the audit trail.")
    check = audit_verify()
    if check.ok:
        check = _check_last_head_kept(check)
    with transaction.atomic():
        result = AuditVerification.objects.create(
            checked_at=timezone.now(),
            ok=check.ok,
            count=check.count,
            broken_event_id=check.broken_event_id,
            problem=check.problem,
            head_event_id=check.head_event_id,
            head_hash=check.head_hash,
            pending=check.pending,
            run_by=by,
        )
        audit_record(
            verb="audit_verified",
            actor=by,
            data={
                "ok": check.ok,
                "count": check.count,
                "broken_event": check.broken_event_id,
                "problem": check.problem,
                "pending": check.pending,
                "sealed": check.sealed,
                "verification": result.pk,
            },
        )
    return result
