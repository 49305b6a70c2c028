"""The audit sealer: appends take no lock (two transactions append side by side), committed
events are sealed into the chain in order, verify_audit seals what waits before it checks
(an event merely late is no break) and finds an event it cannot seal, an edited sealed row,
and the trigger refuses a second seal."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from workflows.audit import sealer
from workflows.audit.sealer import SEAL_GRACE, audit_seal_pending
from workflows.audit.trail import (
    audit_record,
    audit_record_many,
    audit_verification_run,
    audit_verify,
)
from workflows.models import AuditEvent

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger and the lock exist on PostgreSQL only"
)
WAIT = 30  # seconds: a bound that only a blocked (broken) append would reach


def test_events_are_appended_unsealed_and_sealed_in_order(db):
    audit_record(verb="test_first")
    many = audit_record_many([{"verb": "test_bulk", "data": {"n": n}} for n in range(3)])
    assert all(event.seq is None and event.hash is None for event in many)

    assert audit_seal_pending(batch_size=2) == 4  # two batches and a last, empty one
    events = list(AuditEvent.objects.order_by("seq"))
    assert [(e.seq, e.verb) for e in events] == [(1, "test_first")] + [
        (n, "test_bulk") for n in (2, 3, 4)
    ]
    assert [e.data.get("n") for e in events[1:]] == [0, 1, 2]
    assert all(
        later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False)
    )
    check = audit_verify()
    assert (check.ok, check.count, check.pending, check.head_event_id) == (
        True,
        4,
        0,
        events[-1].pk,
    )


def test_an_event_waiting_past_the_grace_period_is_sealed_then_verified(db):
    """Inside a test's transaction the after-commit seal never runs: a run longer than the
    grace period used to be refused. The check seals what waits, in order, and verifies it."""
    sealed = audit_record(verb="test_sealed")
    audit_seal_pending()
    late = audit_record(verb="test_waiting")
    later = audit_record(verb="test_waiting_too")

    with time_machine.travel(timezone.now() + SEAL_GRACE * 2, tick=False):
        result = audit_verification_run()

    assert (result.ok, result.count, result.pending) == (True, 3, 0), result.problem
    events = {e.pk: e for e in AuditEvent.objects.filter(pk__in=[sealed.pk, late.pk, later.pk])}
    assert [events[pk].seq for pk in (sealed.pk, late.pk, later.pk)] == [1, 2, 3]
    assert events[late.pk].prev_hash == events[sealed.pk].hash
    assert events[later.pk].prev_hash == events[late.pk].hash
    record = AuditEvent.objects.get(verb="audit_verified")
    assert (record.data["ok"], record.data["sealed"]) == (True, 2)


def test_an_event_the_sealer_cannot_seal_is_still_reported(db, monkeypatch):
    audit_record(verb="test_sealed")
    audit_seal_pending()
    late = audit_record(verb="test_never_sealed")

    def refused(batch_size):
        raise DatabaseError("workflows_auditevent is append-only: UPDATE refused")

    monkeypatch.setattr(sealer, "_seal_batch", refused)
    assert audit_verify().ok  # young: merely pending
    check = audit_verify(now=timezone.now() + SEAL_GRACE + dt.timedelta(seconds=1))

    assert not check.ok and check.broken_event_id == late.pk
    assert (check.count, check.pending, check.sealed) == (1, 1, 0)
    assert "1 events older than 5 minutes are not sealed" in check.problem


@pytest.mark.django_db(transaction=True)
def test_a_committed_transaction_has_its_events_sealed_after_commit():
    with transaction.atomic():
        first = audit_record(verb="test_one")
        second = audit_record(verb="test_two")
        assert AuditEvent.objects.filter(seq__isnull=False).count() == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.seq, second.seq) == (1, 2) and second.prev_hash == first.hash
    result = audit_verification_run()
    assert (result.ok, result.count, result.pending) == (True, 2, 0)


@on_postgresql
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_append_side_by_side_without_waiting_for_each_other():
    """The first holds its transaction open after appending; the second appends and commits
    meanwhile. With the old chain lock the second waited for the first's commit."""
    first_appended, second_committed, first_may_commit = (threading.Event() for _ in range(3))
    failures = []

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)
            finally:
                connections.close_all()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def first():
        with transaction.atomic():
            audit_record(verb="test_long_transaction")
            first_appended.set()
            assert first_may_commit.wait(WAIT), "the main thread never let the first commit"

    def second():
        assert first_appended.wait(WAIT)
        with transaction.atomic():
            audit_record(verb="test_short_transaction")
        second_committed.set()

    threads = [in_thread(first), in_thread(second)]
    try:
        committed = second_committed.wait(WAIT)
    finally:
        first_may_commit.set()
        for thread in threads:
            thread.join(WAIT)
    assert not failures, failures
    assert committed, "the second append waited for the first transaction"

    long_one = AuditEvent.objects.get(verb="test_long_transaction")
    short_one = AuditEvent.objects.get(verb="test_short_transaction")
    # The first got the earlier id but committed later: it is sealed after the second.
    assert long_one.pk < short_one.pk and (short_one.seq, long_one.seq) == (1, 2)
    assert long_one.prev_hash == short_one.hash
    check = audit_verify()
    assert (check.ok, check.count, check.pending) == (True, 2, 0)


@on_postgresql
@pytest.mark.postgres
def test_the_trigger_lets_a_row_be_sealed_once_and_nothing_else(db):
    sealed = audit_record(verb="test_sealed")
    audit_seal_pending()
    sealed.refresh_from_db()
    unsealed = audit_record(verb="test_unsealed")
    attempts = (
        # A second seal of a sealed row, even with the same hash.
        (
            "UPDATE workflows_auditevent SET seq = 99, hash = %s WHERE id = %s",
            ["f" * 64, sealed.pk],
        ),
        (
            "UPDATE workflows_auditevent SET seq = NULL, hash = NULL, prev_hash = NULL "
            "WHERE id = %s",
            [sealed.pk],
        ),
        # A seal that changes the content on the way.
        (
            "UPDATE workflows_auditevent SET seq = 2, prev_hash = %s, hash = %s, reason = 'x' "
            "WHERE id = %s",
            [sealed.hash, "e" * 64, unsealed.pk],
        ),
        # Content of an unsealed row.
        ("UPDATE workflows_auditevent SET reason = 'x' WHERE id = %s", [unsealed.pk]),
        ("DELETE FROM workflows_auditevent WHERE id = %s", [unsealed.pk]),
    )
    for sql, params in attempts:
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)

    assert audit_seal_pending() == 1
    check = audit_verify()
    assert (check.ok, check.count, check.pending) == (True, 2, 0)


@on_postgresql
@pytest.mark.postgres
def test_a_sealed_row_edited_behind_the_trigger_is_found(db):
    audit_record(verb="test_first")
    edited = audit_record(verb="test_second", reason="as it was")
    audit_record(verb="test_third")
    audit_seal_pending()
    with connection.cursor() as cursor:
        # What a superuser could do: the trigger is the first line, the chain the second.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for none pending
        cursor.execute(
            "ALTER TABLE workflows_auditevent DISABLE TRIGGER workflows_auditevent_append_only"
        )
        cursor.execute(
            "UPDATE workflows_auditevent SET reason = 'rewritten' WHERE id = %s", [edited.pk]
        )
        cursor.execute(
            "ALTER TABLE workflows_auditevent ENABLE TRIGGER workflows_auditevent_append_only"
        )

    check = audit_verify()

    assert not check.ok and check.broken_event_id == edited.pk
    assert "content does not match its hash" in check.problem


@on_postgresql
@pytest.mark.postgres
def test_a_broken_chain_still_fails_after_the_check_seals_what_waits(db):
    """Sealing first repairs nothing: a sealed row edited behind the trigger breaks the chain
    whatever the check sealed after it, and a row unsealed behind the trigger (its old hash
    kept) is refused its new seal by the trigger, so it is reported as not sealed."""
    audit_record(verb="test_first")
    edited = audit_record(verb="test_second", reason="as it was")
    audit_seal_pending()
    waiting = audit_record(verb="test_waiting")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE workflows_auditevent DISABLE TRIGGER workflows_auditevent_append_only"
        )
        cursor.execute(
            "UPDATE workflows_auditevent SET reason = 'rewritten' WHERE id = %s", [edited.pk]
        )
        cursor.execute(
            "ALTER TABLE workflows_auditevent ENABLE TRIGGER workflows_auditevent_append_only"
        )

    with time_machine.travel(timezone.now() + SEAL_GRACE * 2, tick=False):
        result = audit_verification_run()

    assert not result.ok and result.broken_event_id == edited.pk
    assert "content does not match its hash" in result.problem
    waiting.refresh_from_db()
    assert waiting.seq == 3  # sealed by the check, after the edited row


@on_postgresql
@pytest.mark.postgres
def test_an_event_unsealed_behind_the_trigger_is_reported_not_resealed(db):
    first = audit_record(verb="test_first")
    unsealed = audit_record(verb="test_second")
    audit_seal_pending()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE workflows_auditevent DISABLE TRIGGER workflows_auditevent_append_only"
        )
        # Its seq taken away, its hashes kept: the trigger refuses a seal that changes them.
        cursor.execute(
            "UPDATE workflows_auditevent SET seq = NULL, prev_hash = %s WHERE id = %s",
            ["e" * 64, unsealed.pk],
        )
        cursor.execute(
            "ALTER TABLE workflows_auditevent ENABLE TRIGGER workflows_auditevent_append_only"
        )

    with time_machine.travel(timezone.now() + SEAL_GRACE * 2, tick=False):
        check = audit_verify()

    assert not check.ok and check.broken_event_id == unsealed.pk
    assert (check.count, check.pending, check.sealed) == (1, 1, 0)
    assert "are not sealed into the chain and could not be" in check.problem
    assert AuditEvent.objects.get(pk=first.pk).seq == 1
