"""The audit trail itself: append-only in the app and (PostgreSQL) in the database, verify_audit
finding rows changed behind the app's back, and logins on the trail."""

import io

import pytest
from django.core.management import call_command, execute_from_command_line
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from tests.casework import walk_to_end
from tests.conftest import DEMO_PASSWORD
from workflows.audit.sealer import audit_seal_pending
from workflows.audit.trail import audit_record, audit_verify
from workflows.models import AuditEvent, AuditTrailIsAppendOnly, AuditVerification

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only"
)
on_sqlite = pytest.mark.skipif(
    connection.vendor != "sqlite",
    reason="edits rows by raw SQL, which PostgreSQL's trigger refuses",
)


@pytest.fixture
def trail(client, launch):
    """A real trail: measure 2.2 launched and walked to the end through the task pages."""
    case = launch("2.2")
    walk_to_end(client, case)
    audit_seal_pending()  # what the after-commit hook does outside a test's transaction
    return case


def verify_from_the_command_line(capsys) -> tuple[int, str, str]:
    """Run `manage.py verify_audit` the way a shell does; returns (exit status, out, err).

    SQLite only: manage.py closes the connections at the end, which on PostgreSQL would end
    the test's transaction."""
    try:
        execute_from_command_line(["manage.py", "verify_audit"])
        status = 0
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


# --------------------------------------------------------------------------- append-only, app


def test_the_app_never_updates_or_deletes_an_event(trail):
    event = AuditEvent.objects.filter(case=trail).first()
    event.reason = "rewritten"
    count = AuditEvent.objects.count()

    with pytest.raises(AuditTrailIsAppendOnly):
        event.save()
    with pytest.raises(AuditTrailIsAppendOnly):
        event.delete()
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.filter(case=trail).update(reason="rewritten")
    with pytest.raises(AuditTrailIsAppendOnly):
        AuditEvent.objects.filter(case=trail).delete()
    # bulk_update opens a transaction without a savepoint; keep its failure out of the test's.
    with pytest.raises(AuditTrailIsAppendOnly), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["reason"])

    assert AuditEvent.objects.count() == count
    assert not AuditEvent.objects.filter(reason="rewritten").exists()
    assert audit_verify().ok


# --------------------------------------------------------------------------- append-only, PG


@on_postgresql
@pytest.mark.postgres
def test_postgresql_refuses_a_raw_sql_update_delete_and_truncate_of_the_trail(trail):
    event = AuditEvent.objects.filter(case=trail).first()
    with connection.cursor() as cursor:
        # Run the deferred foreign-key checks now: TRUNCATE refuses to run while any are pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for sql, params in (
        ("UPDATE workflows_auditevent SET reason = %s WHERE id = %s", ["rewritten", event.pk]),
        ("DELETE FROM workflows_auditevent WHERE id = %s", [event.pk]),
        ("TRUNCATE workflows_auditevent CASCADE", []),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)

    assert AuditEvent.objects.get(pk=event.pk).reason == event.reason
    assert AuditEvent.objects.filter(case=trail).count() > 1
    assert audit_verify().ok


# --------------------------------------------------------------------------- verify_audit


def test_verify_audit_prints_ok_with_the_count_and_stores_the_result(trail):
    count = AuditEvent.objects.count()
    assert count > 10
    out, err = io.StringIO(), io.StringIO()

    call_command("verify_audit", stdout=out, stderr=err)  # raises CommandError when broken

    assert (out.getvalue(), err.getvalue()) == (f"OK: {count} events\n", "")
    result = AuditVerification.objects.get()
    assert (result.ok, result.count, result.broken_event_id, result.run_by) == (
        True,
        count,
        None,
        None,
    )
    last = AuditEvent.objects.last()
    assert last.verb == "audit_verified" and last.data["ok"] is True
    assert result.head_event_id == last.pk - 1
    # The run's own event waits for its seal (after commit: never in a test's transaction);
    # the next run seals it before it checks, and so on.
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue() == f"OK: {count + 1} events\n"
    assert AuditEvent.objects.get(pk=last.pk).seq == count + 1
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue() == f"OK: {count + 2} events\n"


@on_sqlite
def test_a_row_edited_by_hand_makes_verify_audit_fail_at_that_event(trail, capsys):
    approval = AuditEvent.objects.filter(case=trail, verb="approved").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE workflows_auditevent SET actor_name = %s WHERE id = %s",
            ["someone.else", approval.pk],
        )

    status, out, err = verify_from_the_command_line(capsys)

    assert status != 0
    assert out == ""
    assert f"BROKEN at event {approval.pk} (approved, {approval.created_at.isoformat()})" in err
    assert "content does not match its hash" in err
    result = AuditVerification.objects.get()
    assert not result.ok and result.broken_event_id == approval.pk
    assert "content does not match its hash" in result.problem


@on_sqlite
def test_a_row_removed_by_hand_breaks_the_link_of_the_next_event(trail, capsys):
    removed, second = AuditEvent.objects.order_by("pk")[4:6]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM workflows_auditevent WHERE id = %s", [removed.pk])

    status, _out, err = verify_from_the_command_line(capsys)

    assert status == 1
    assert f"BROKEN at event {second.pk} ({second.verb}," in err
    assert "prev_hash does not match the event before" in err


@on_sqlite
def test_cutting_the_newest_events_is_caught_by_the_head_the_last_run_recorded(trail, capsys):
    assert verify_from_the_command_line(capsys)[0] == 0
    head = AuditVerification.objects.get().head_event_id
    with connection.cursor() as cursor:
        # Cut the verified head and everything after it: what is left is a sound chain.
        cursor.execute("DELETE FROM workflows_auditevent WHERE id >= %s", [head])
    assert audit_verify().ok

    status, _out, err = verify_from_the_command_line(capsys)

    assert status == 1
    assert f"event {head} (no longer in the trail)" in err
    assert "the trail was cut or rewritten" in err


# --------------------------------------------------------------------------- logins


def test_a_login_and_a_logout_are_audited(client, demo_users):
    response = client.post(
        reverse("login"), {"username": "network_work.staff", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    client.post(reverse("logout"))

    logged_in, logged_out = AuditEvent.objects.filter(verb__in=["logged_in", "logged_out"])
    staff = demo_users("network_work.staff")
    assert (logged_in.verb, logged_in.actor, logged_in.actor_name) == (
        "logged_in",
        staff,
        staff.username,
    )
    assert logged_in.data["ip"] == "127.0.0.1"
    assert (logged_out.verb, logged_out.actor) == ("logged_out", staff)
    assert audit_verify().ok


def test_a_failed_login_records_the_username_tried_and_never_the_password(client, demo_users):
    response = client.post(
        reverse("login"), {"username": "network_work.staff", "password": "wrong-guess-123"}
    )
    assert response.status_code == 200  # the form again, with its error

    event = AuditEvent.objects.get(verb="login_failed")
    assert event.actor is None and event.actor_name == ""
    assert event.data["username"] == "network_work.staff"
    stored = f"{event.data} {event.reason}"
    assert "wrong-guess-123" not in stored and "password" not in stored
    assert not AuditEvent.objects.filter(verb="logged_in").exists()


def test_audit_record_chains_each_event_to_the_one_before(db):
    first = audit_record(verb="test_first")
    second = audit_record(verb="test_second")
    assert (first.seq, first.hash, second.seq, second.hash) == (None, None, None, None)
    assert AuditEvent.objects.filter(seq__isnull=True).count() == 2

    assert audit_seal_pending() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    assert (audit_verify().count, audit_verify().pending) == (2, 0)
    assert audit_seal_pending() == 0
