"""Exports and logs at national scale (issue 20): the ledger below a federation comes a file's
worth of federations at a time, the audit CSV covers a bounded period read by keyset, and the
notification log pages by id, each at a cost that does not grow with the data behind it."""

import csv
import io
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from workflows.models import (
    AuditEvent,
    Notification,
    NotificationKind,
    NotificationStatus,
    Organisation,
)
from workflows.reports import exports, ledger

LEDGER = reverse("workflows:ledger", args=["xlsx"])
AUDIT_CSV = reverse("workflows:audit_csv")
LOG = reverse("workflows:notifications")
LOG_API = "/api/v1/notifications/"

# --------------------------------------------------------------------------- the ledger


def _sheet(response):
    """(title, note or None, header, rows as dicts) of a ledger workbook."""
    assert response.status_code == 200, response.content[:300]
    lines = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    title, *rest = lines
    note = rest.pop(0)[0] if rest[0][1] is None else None
    header, *rows = rest
    return title[0], note, header, [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture
def spread(launch, coordinator):
    """2.2 launched nationally and in Beijing, with Shanghai (no case) beside it."""
    from workflows.cases.launch import case_launch
    from workflows.models import OrganisationLevel
    from workflows.organisations.services import organisation_create

    provincial = OrganisationLevel.objects.get(key="provincial")
    beijing, _shanghai = (
        organisation_create(
            code=code, title_en=title, level=provincial, parent=Organisation.national()
        )
        for code, title in (("beijing", "Beijing FTU"), ("shanghai", "Shanghai FTU"))
    )
    case = launch("2.2")
    case_launch(measure=case.measure, by=coordinator, organisation=beijing)
    return case


def test_a_ledger_below_a_federation_comes_a_files_worth_of_federations_at_a_time(
    client, coordinator, spread, monkeypatch
):
    client.force_login(coordinator)
    _title, note, _header, whole = _sheet(client.get(LEDGER, {"below": "1"}))
    assert note is None  # all federations fit in one file: no note, the layout as before
    assert {r["Federation"] for r in whole if r["No."] == "2.2"} == {
        Organisation.national().title_en,
        Organisation.objects.get(code="beijing").title_en,
    }

    monkeypatch.setattr(ledger, "LEDGER_FEDERATIONS_PER_FILE", 1)
    total = Organisation.objects.count()
    pages, notes = [], []
    for page in range(1, total + 1):
        _title, note, header, rows = _sheet(client.get(LEDGER, {"below": "1", "page": page}))
        assert header[0] == "No."
        assert len({r["Federation"] for r in rows}) <= 1
        notes.append(note)
        pages += rows
    # The pages together are the whole ledger; each file says which part it holds.
    key = lambda r: (r["Federation"], r["No."])  # noqa: E731
    assert sorted(pages, key=key) == sorted(whole, key=key)
    assert notes[1].startswith(f"This file lists federations 2 to 2 of the {total} in and below")
    assert f"page=1 to page={total}" in notes[1]

    zh = client.get(LEDGER, {"below": "1", "page": 2}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert f"共 {total} 个工会中的第 2 至 2 个" in _sheet(zh)[1]
    docx = client.get(reverse("workflows:ledger", args=["docx"]), {"below": "1", "page": 2})
    assert docx.status_code == 200 and "page=2" in docx["Content-Disposition"].replace(
        "-p", "page="
    )

    for wrong in (str(total + 1), "0", "two", "-1"):
        response = client.get(LEDGER, {"below": "1", "page": wrong})
        assert response.status_code == 400 and "page: " in response.content.decode()
        api = client.get("/api/v1/ledger.xlsx", {"below": "1", "page": wrong})
        assert api.status_code == 400 and api.json()["detail"].startswith("page: ")
    api = client.get("/api/v1/ledger.docx", {"below": "1", "page": "2"})
    assert api.status_code == 200


def test_a_ledger_file_holds_five_federations_and_says_so_in_both_languages(
    client, coordinator, spread
):
    from workflows.models import OrganisationLevel
    from workflows.organisations.services import organisation_create

    provincial = OrganisationLevel.objects.get(key="provincial")
    for number in range(4):
        organisation_create(
            code=f"province-{number}",
            title_en=f"Province {number}",
            level=provincial,
            parent=Organisation.national(),
        )
    total = Organisation.objects.count()
    assert ledger.LEDGER_FEDERATIONS_PER_FILE == 5 and total > 5
    pages = -(-total // 5)
    client.force_login(coordinator)
    _title, note, _header, rows = _sheet(client.get(LEDGER, {"below": "1"}))
    assert note == (
        f"This file lists federations 1 to 5 of the {total} in and below "
        f"{Organisation.national().title_en} (5 to a file). Add page=1 to page={pages} to the "
        "address for the others."
    )
    first_five = Organisation.objects.order_by("path").values_list("title_en", flat=True)[:5]
    assert {r["Federation"] for r in rows} <= set(first_five)
    zh = _sheet(client.get(LEDGER, {"below": "1"}, HTTP_ACCEPT_LANGUAGE="zh-hans"))[1]
    assert f"共 {total} 个工会中的第 1 至 5 个（每个文件 5 个）" in zh
    assert f"page=1 至 page={pages}" in zh


def test_a_ledger_file_costs_the_same_queries_on_any_page(client, coordinator, spread, monkeypatch):
    monkeypatch.setattr(ledger, "LEDGER_FEDERATIONS_PER_FILE", 1)
    client.force_login(coordinator)
    counts = []
    for page in ("1", "2", "3"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LEDGER, {"below": "1", "page": page}).status_code == 200
        counts.append(len(captured))
    # National and Beijing hold a case each; Shanghai none, so its empty lookups are skipped.
    assert counts[0] == counts[1] and counts[2] <= counts[0], counts


# --------------------------------------------------------------------------- the audit CSV


def _csv_ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return [int(row[0]) for row in list(csv.reader(io.StringIO(body)))[1:]]


def test_the_audit_csv_covers_the_last_31_days_unless_asked_for_a_period(client, auditor, launch):
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        old = launch("2.2")
    recent = launch("2.3")
    old_ids = set(AuditEvent.objects.filter(case=old).values_list("pk", flat=True))
    recent_ids = set(AuditEvent.objects.filter(case=recent).values_list("pk", flat=True))
    client.force_login(auditor)

    shown = set(_csv_ids(client.get(AUDIT_CSV)))
    assert recent_ids <= shown and not old_ids & shown
    since = (timezone.localdate() - timedelta(days=45)).isoformat()
    shown = set(_csv_ids(client.get(AUDIT_CSV, {"since": since})))
    assert recent_ids | old_ids <= shown
    until = (timezone.localdate() - timedelta(days=35)).isoformat()
    shown = set(_csv_ids(client.get(AUDIT_CSV, {"until": until})))
    assert old_ids <= shown and not recent_ids & shown


@pytest.mark.parametrize(
    ("language", "words"),
    [("en", "The audit export covers at most 366 days"), ("zh-hans", "审计导出最多涵盖 366 天")],
)
def test_an_audit_csv_period_longer_than_a_year_is_a_400_in_both_languages(
    client, auditor, language, words
):
    client.force_login(auditor)
    today = timezone.localdate()
    response = client.get(
        AUDIT_CSV,
        {"since": (today - timedelta(days=366)).isoformat(), "until": today.isoformat()},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 400
    assert words in response.content.decode()
    year = {"since": (today - timedelta(days=365)).isoformat(), "until": today.isoformat()}
    assert client.get(AUDIT_CSV, year).status_code == 200


def _csv_line_as_objects_word_it(event, language: str) -> list[str]:
    """An event's CSV line as the export wrote it from model objects before it read values
    (issue 20): the reference the values and memoised words must match byte for byte."""
    import json

    from workflows.common import wording
    from workflows.reports.exports import cell_value

    with translation.override(language):
        wording.events_primed([event])
        action = wording.event_sentence_by(event)
    return [
        str(event.pk),
        timezone.localtime(event.created_at).isoformat(),
        event.verb,
        cell_value(event.actor_name),
        str(event.case_id or ""),
        event.case.measure.code if event.case_id else "",
        str(event.work_item_id or ""),
        event.work_item.step.key if event.work_item_id else "",
        cell_value(event.reason),
        json.dumps(event.data, ensure_ascii=False, sort_keys=True),
        cell_value(action),
        str(event.seq or ""),
        event.prev_hash or "",
        event.hash or "",
    ]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_audit_csv_words_each_event_as_its_objects_would(
    client, auditor, coordinator, launch, monkeypatch, language
):
    from django.contrib.auth import get_user_model

    from tests.casework import open_item_of
    from workflows.audit.sealer import audit_seal_pending
    from workflows.audit.trail import audit_record

    get_user_model().objects.filter(pk=auditor.pk).update(first_name="Li", last_name="Na")
    get_user_model().objects.filter(pk=coordinator.pk).update(first_name="王", last_name="伟")
    case = launch("2.2")
    item = open_item_of(case)
    beijing = Organisation.objects.exclude(pk=Organisation.national().pk).first()
    details = [
        ("case_cascaded", {"created": [beijing.code if beijing else "nowhere", "gone"]}),
        ("task_assigned", {"to": auditor.username}),
        ("task_assigned", {"to": coordinator.username}),  # the same verb, other words
        ("task_reassigned", {"to": coordinator.username, "from": auditor.username}),
        ("deadline_extended", {"to": "2027-03-01"}),
        ("deadline_extended", {"to": "2027-04-01"}),
        ("task_created", {"due_at": "2027-03-01T09:30:00+00:00", "step": 3}),
        ("approved", {"on_behalf_of": auditor.username, "note": "好"}),
        ("approved", {"on_behalf_of": auditor.username}),  # the same words: from the memo
        ("submitted", ["not", "a", "dict"]),
        ("made_up_verb", {}),
    ]
    for verb, data in details:
        audit_record(
            verb=verb, actor=coordinator, case=case, work_item=item, reason="=SUM(A1)", data=data
        )
    audit_record(verb="logged_in", data={"username": "someone", "ip": "127.0.0.1"})
    audit_seal_pending()
    audit_record(verb="approved", actor=auditor, case=case, data={"on_behalf_of": "nobody"})
    monkeypatch.setattr(exports, "AUDIT_CSV_CHUNK", 3)  # words carried across chunks
    monkeypatch.setattr(exports, "AUDIT_CSV_READ", 4)
    client.force_login(auditor)
    response = client.get(AUDIT_CSV, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    header, *lines = list(csv.reader(io.StringIO(body)))
    assert header == exports.AUDIT_CSV_HEADER
    events = AuditEvent.objects.select_related("actor", "case__measure", "work_item__step")
    by_id = {event.pk: event for event in events}
    assert len(lines) == len(by_id) > len(details)
    assert lines == [_csv_line_as_objects_word_it(by_id[int(line[0])], language) for line in lines]
    on_behalf = [line[10] for line in lines if line[2] == "approved"]
    assert any("Li Na" in words for words in on_behalf), on_behalf


def test_the_audit_csv_reads_by_keyset_in_chain_order(client, auditor, launch, monkeypatch):
    from workflows.audit.sealer import audit_seal_pending

    launch("2.2")
    audit_seal_pending()
    launch("2.3")  # its events not sealed yet: they come last, by id
    client.force_login(auditor)
    whole = _csv_ids(client.get(AUDIT_CSV))
    monkeypatch.setattr(exports, "AUDIT_CSV_READ", 2)
    with CaptureQueriesContext(connection) as captured:
        chunked = _csv_ids(client.get(AUDIT_CSV))
    assert chunked == whole and len(whole) > 4
    expected = list(
        AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list("pk", flat=True)
    ) + list(
        AuditEvent.objects.filter(seq__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    assert whole == [pk for pk in expected if pk in set(whole)]
    trail = [q["sql"] for q in captured if 'FROM "workflows_auditevent"' in q["sql"]]
    assert trail and not any("OFFSET" in sql for sql in trail)
    # Each read is one slice: two seqs of the chain, or two unsealed events by id.
    reads = [sql for sql in trail if "MIN(" not in sql]
    assert all('"seq" < ' in sql or "LIMIT 2" in sql for sql in reads), reads


def test_a_formula_in_an_audit_reason_stays_text_in_the_csv(client, auditor, launch):
    from workflows.audit.trail import audit_record

    case = launch("2.2")
    audit_record(verb="comment_added", case=case, reason="=HYPERLINK(1)")
    client.force_login(auditor)
    body = b"".join(client.get(AUDIT_CSV).streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in body


# --------------------------------------------------------------------------- notifications


def _notify(user, count: int, start: int = 0, status=NotificationStatus.SENT) -> None:
    Notification.objects.bulk_create(
        Notification(
            dedupe_key=f"bench-{start + n}",
            recipient=user,
            kind=NotificationKind.DIGEST,
            status=status,
            subject=f"message {start + n}",
        )
        for n in range(count)
    )


def _log_page(client, **query):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(LOG, query)
    assert response.status_code == 200
    return response.context["page"], len(captured)


def test_the_notification_log_pages_by_id_at_a_fixed_cost(client, coordinator):
    client.force_login(coordinator)
    _notify(coordinator, 3)
    client.get(LOG)  # warm (the menu's cached counts)
    _page, few = _log_page(client)
    _page, few_sent = _log_page(client, status=NotificationStatus.SENT)
    _notify(coordinator, 120, start=3)
    first, many = _log_page(client)
    _page, many_sent = _log_page(client, status=NotificationStatus.SENT)
    assert (few, few_sent) == (many, many_sent)
    assert len(first.rows) == 50 and first.newer is None and first.older
    ids = [n.pk for n in first.rows]
    assert ids == sorted(ids, reverse=True) and ids[0] == Notification.objects.latest("pk").pk
    second, _count = _log_page(client, before=first.older)
    assert [n.pk for n in second.rows] == [
        pk for pk in sorted(Notification.objects.values_list("pk", flat=True), reverse=True)
    ][50:100]
    assert second.newer == second.rows[0].pk
    back, _count = _log_page(client, after=second.newer)
    assert [n.pk for n in back.rows] == ids
    page = client.get(LOG, {"status": "sent"}).content.decode()
    assert f"status=sent&amp;before={first.older}" in page
    assert client.get(LOG, {"before": "x"}).status_code == 400


def test_the_notification_api_pages_by_id_without_a_count(client, coordinator):
    client.force_login(coordinator)
    _notify(coordinator, 7)
    _notify(coordinator, 2, start=7, status=NotificationStatus.FAILED)
    body = client.get(LOG_API, {"limit": 3}).json()
    assert set(body) == {"next", "previous", "results"} and len(body["results"]) == 3
    assert "before=" in body["next"] and body["previous"] is None
    older = client.get(body["next"]).json()
    assert [r["id"] for r in older["results"]] == sorted(
        Notification.objects.values_list("pk", flat=True), reverse=True
    )[3:6]
    failed = client.get(LOG_API, {"status": "failed"}).json()["results"]
    assert len(failed) == 2
    assert client.get(LOG_API, {"offset": 3}).status_code == 400
