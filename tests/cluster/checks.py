"""What must hold after the run, read from the primary with the project's own models: every
case exactly as the driver's ledger says, every report rendered once, every mail sent once,
the audit chain whole, every stored file matching its recorded SHA-256."""

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Outcome:
    name: str
    figures: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_cases(ledger) -> Outcome:
    from workflows.models import Case, ProgressUpdate, WorkItem, WorkItemStatus

    result = Outcome("cases")
    ids = list(ledger.cases)
    done_items: dict[int, list] = {}
    for item in (
        WorkItem.objects.filter(case_id__in=ids, status=WorkItemStatus.DONE)
        .select_related("step")
        .order_by("finished_at", "pk")
    ):
        done_items.setdefault(item.case_id, []).append((item.pk, item.step.key, item.outcome))
    progress: dict[int, list] = {}
    for update in ProgressUpdate.objects.filter(case_id__in=ids).order_by("pk"):
        progress.setdefault(update.case_id, []).append(
            (update.work_item_id, update.percent, update.note)
        )
    open_cases = dict(Case.objects.filter(pk__in=ids).values_list("pk", "is_open"))
    actions = lost = extra = closed = 0
    for record in ledger.cases.values():
        have, want = done_items.get(record.id, []), record.events
        have_progress, want_progress = progress.get(record.id, []), record.progress
        actions += len(want) + len(want_progress)
        lost += len([e for e in want if e not in have])
        lost += len([p for p in want_progress if p not in have_progress])
        extra += len([e for e in have if e not in want])
        extra += len([p for p in have_progress if p not in want_progress])
        if have != want or have_progress != want_progress:
            result.problems.append(
                f"case {record.id} ({record.measure}): database {have} {have_progress}, "
                f"driver {want} {want_progress}"
            )
        closed += not open_cases.get(record.id, True)
    result.figures = {
        "cases": len(ids),
        "closed": closed,
        "actions recorded": actions,
        "lost": lost,
        "duplicated or unexplained": extra,
        "mismatched": len(result.problems),
    }
    return result


def check_reports(ledger) -> Outcome:
    from workflows.models import AuditEvent, Case, Report, ReportKind, ReportStatus

    result = Outcome("reports")
    rendered = Counter(
        event.data["report"] for event in AuditEvent.objects.filter(verb="report_generated")
    )
    reports = {report.pk: report for report in Report.objects.all()}
    closed = set(
        Case.objects.filter(pk__in=list(ledger.cases), is_open=False).values_list("pk", flat=True)
    )
    completion = [r for r in reports.values() if r.kind == ReportKind.COMPLETION]
    expected = set(ledger.reports) | {r.pk for r in completion}
    lost = [pk for pk in expected if pk not in reports or reports[pk].status != ReportStatus.READY]
    twice = [pk for pk, count in rendered.items() if count > 1]
    unexplained = [pk for pk in reports if pk not in expected]
    without_report = sorted(closed - {r.case_id for r in completion})
    for pk in lost:
        status = reports[pk].status if pk in reports else "missing"
        result.problems.append(f"report {pk} not rendered ({status})")
    for pk in twice:
        result.problems.append(f"report {pk} rendered {rendered[pk]} times")
    for pk in unexplained:
        result.problems.append(f"report {pk} was never requested by the driver")
    for pk in without_report:
        result.problems.append(f"closed case {pk} has no completion report")
    result.figures = {
        "requested": len(ledger.reports),
        "completion": len(completion),
        "ready": sum(r.status == ReportStatus.READY for r in reports.values()),
        "lost": len(lost) + len(without_report),
        "rendered twice": len(twice),
    }
    return result


def check_mail(mail_file: Path) -> Outcome:
    from workflows.models import Notification, NotificationStatus, Report, ReportStatus

    result = Outcome("mail")
    received = [json.loads(line) for line in mail_file.read_text().splitlines() if line]
    by_notification = Counter(m["notification"] for m in received if m["notification"])
    by_report = Counter(m["report"] for m in received if m["report"])
    statuses = Counter(Notification.objects.values_list("status", flat=True))
    sent = set(
        str(pk)
        for pk in Notification.objects.filter(status=NotificationStatus.SENT).values_list(
            "pk", flat=True
        )
    )
    duplicated = {pk: n for pk, n in by_notification.items() if n > 1}
    never_received = sent - set(by_notification)
    received_unsent = set(by_notification) - sent
    undelivered = statuses[NotificationStatus.PENDING] + statuses[NotificationStatus.SENDING]
    ready_with_mail = set(
        Report.objects.filter(status=ReportStatus.READY, requested_by__email__gt="").values_list(
            "pk", flat=True
        )
    )
    reports_twice = {pk: n for pk, n in by_report.items() if n > 1}
    reports_unmailed = ready_with_mail - set(by_report)
    if duplicated:
        result.problems.append(f"notifications received more than once: {duplicated}")
    if never_received:
        result.problems.append(f"marked sent but never received: {sorted(never_received)}")
    if received_unsent:
        result.problems.append(f"received but not marked sent: {sorted(received_unsent)}")
    if undelivered:
        result.problems.append(f"{undelivered} notifications still pending or sending")
    if reports_twice:
        result.problems.append(f"report mails received more than once: {reports_twice}")
    if reports_unmailed:
        result.problems.append(f"ready reports never mailed: {sorted(reports_unmailed)}")
    result.figures = {
        "received": len(received),
        "notifications sent": len(sent),
        "folded into digests": statuses[NotificationStatus.FOLDED],
        "failed": statuses[NotificationStatus.FAILED],
        "report mails": sum(by_report.values()),
        "lost": len(never_received) + undelivered + len(reports_unmailed),
        "duplicated": sum(n - 1 for n in duplicated.values())
        + sum(n - 1 for n in reports_twice.values()),
    }
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stored:
        for chunk in iter(lambda: stored.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_files() -> Outcome:
    """Every stored report and evidence file against the SHA-256 the database recorded (what
    a `verify_files` command does, where one exists)."""
    from django.core.files.storage import default_storage

    from workflows.models import Evidence, Report, ReportStatus

    result = Outcome("files")
    checked = 0
    rows = [
        (f"report {r.pk}", r.file.name, r.sha256)
        for r in Report.objects.filter(status=ReportStatus.READY)
    ]
    rows += [(f"evidence {e.pk}", e.file.name, e.sha256) for e in Evidence.objects.all()]
    for label, name, sha in rows:
        checked += 1
        path = Path(default_storage.path(name))
        if not path.exists():
            result.problems.append(f"{label}: {name} is missing")
        elif _sha256(path) != sha:
            result.problems.append(f"{label}: {name} does not match its SHA-256")
    result.figures = {"checked": checked, "bad": len(result.problems)}
    return result
