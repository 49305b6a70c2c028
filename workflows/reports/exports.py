"""Tables for download: the programme (CSV, XLSX) and the audit trail (streamed CSV)."""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator
from itertools import islice

from django.db.models import F, Max, Min, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from workflows.audit.trail import AUDIT_EVENT_FIELDS
from workflows.cases import selectors
from workflows.common import wording
from workflows.common.bounds import InputRejected, clean_text
from workflows.common.calendar import local_date
from workflows.models import AuditEvent, Case

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); titles,
# notes and reasons are typed by users, so such cells get a leading apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_value(value):
    """A value as every export writes it (CSV, XLSX, DOCX, the ledger): text cleaned of the
    control characters files cannot hold, and a leading apostrophe on what looks like a
    formula; other values as they are."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_value(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return cell_value(value)


# --------------------------------------------------------------------------- programme


def programme_header() -> list[str]:
    return [
        _("Measure"),
        _("Title"),
        _("Aspect"),
        _("Organisation"),
        _("Status"),
        _("RAG"),
        _("Percent complete"),
        _("Current step"),
        _("Assignee"),
        _("Due"),
    ]


def _assignee(item) -> str:
    if item is None:
        return ""
    if item.assignee is not None:
        return item.assignee.get_username()
    if item.leader_role is not None:
        return item.leader_role.title
    if item.department is not None:
        return _("Queue: %(department)s") % {"department": item.department.title}
    return ""


def _status(case) -> str:
    if case is None:
        return _("Not launched")
    return _("In progress") if case.is_open else _("Completed")


def programme_table(user) -> list[list]:
    """The dashboard's rows as plain cells, in the dashboard's order (one row per measure)."""
    rows = []
    for aspect, measure_rows in selectors.programme_rows(user):
        for row in measure_rows:
            case, item = row.case, row.open_item
            rows.append(
                [
                    row.measure.code,
                    row.measure.title,
                    f"{aspect.code}. {aspect.title}",
                    case.organisation.code if case else "",
                    _status(case),
                    case.get_rag_display() if case else "",
                    case.percent_complete if case else None,
                    item.step.title if item else "",
                    _assignee(item),
                    timezone.localtime(item.due_at).date() if item and item.due_at else None,
                ]
            )
    return rows


def programme_csv(user) -> str:
    """The programme table as CSV text (with a BOM, so spreadsheets read the Chinese titles)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(programme_header())
    for row in programme_table(user):
        writer.writerow([_csv_value(value) for value in row])
    return buffer.getvalue()


def programme_xlsx(user) -> bytes:
    """The programme table as an XLSX workbook (one sheet, frozen header row)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Programme"))
    sheet.freeze_panes = "A2"
    sheet.append(programme_header())
    for row in programme_table(user):
        cells = []
        for value in row:
            if isinstance(value, str):
                value = clean_text(value)  # stored as text below, so no apostrophe is needed
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # openpyxl would store "=..." as a formula; user text is always a string.
                cell.data_type = "s"
            elif value is not None and hasattr(value, "isoformat"):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- audit trail

# The API's fields, and before the hashes the action in the reader's words ("Approved by Wang
# Wei on behalf of Li Na"), so a spreadsheet reads without the verb keys.
# The action in words before the chain columns (seq, prev_hash, hash), which stay last.
AUDIT_CSV_HEADER = [*AUDIT_EVENT_FIELDS[:-3], "action", *AUDIT_EVENT_FIELDS[-3:]]
AUDIT_CSV_CHUNK = 500


# The CSV covers a period, never the whole trail: by default the last AUDIT_CSV_DEFAULT_DAYS
# days (to today), at most AUDIT_CSV_MAX_DAYS, so a download reads what it writes.
AUDIT_CSV_DEFAULT_DAYS = 31
AUDIT_CSV_MAX_DAYS = 366
# Events read per query, each query starting after the last one read (keyset, no cursor).
AUDIT_CSV_READ = 1000


def audit_csv_period(since: dt.date | None, until: dt.date | None) -> tuple[dt.date, dt.date]:
    """The local days (first, last, inclusive) the audit CSV covers: the filters' `since` and
    `until`, a missing `until` being today and a missing `since` AUDIT_CSV_DEFAULT_DAYS
    before `until`; InputRejected (400) for a span longer than AUDIT_CSV_MAX_DAYS."""
    until = until or local_date(timezone.now())
    since = since or until - dt.timedelta(days=AUDIT_CSV_DEFAULT_DAYS - 1)
    if (until - since).days + 1 > AUDIT_CSV_MAX_DAYS:
        raise InputRejected(
            "since",
            _(
                "The audit export covers at most %(days)d days: choose “From” and “To” "
                "closer together."
            )
            % {"days": AUDIT_CSV_MAX_DAYS},
        )
    return since, until


# What one slice reads of each event: plain values, not model objects (issue 20: a month's
# events as objects, with their actors, tasks and steps prefetched, cost 0.38 ms a row).
_AUDIT_CSV_COLUMNS = (
    "pk",
    "created_at",
    "verb",
    "actor_id",
    "actor_name",
    "case_id",
    "work_item_id",
    "reason",
    "data",
    "seq",
    "prev_hash",
    "hash",
)


class AuditCsvRow:
    """One event as the audit CSV reads it: its columns, plus what common/wording asks of an
    event to word it (the actor, the organisations and people its details name)."""

    __slots__ = (*_AUDIT_CSV_COLUMNS, "actor", "organisations_named", "people_named")

    def __init__(self, *values):
        for name, value in zip(_AUDIT_CSV_COLUMNS, values, strict=True):
            setattr(self, name, value)
        self.actor = None


def audit_events_in_chain_order(
    events: QuerySet[AuditEvent], *, since: dt.datetime, until: dt.datetime
) -> Iterator[AuditCsvRow]:
    """`events` recorded in [since, until) in chain order, the unsealed ones last, read by
    keyset: the sealed ones AUDIT_CSV_READ seqs at a time between the first and last seq of
    the period (one aggregate query finds them), then the unsealed ones by id. Each query
    reads one slice of the seq index whatever the other filters, so the whole export reads
    the period once: no server-side cursor, no OFFSET, no re-sorting the period per chunk."""
    in_period = events.filter(created_at__gte=since, created_at__lt=until)
    # seq + 0: MIN(seq) alone is planned as a walk of the seq index from the chain's start
    # (786 ms for a day near the end of the year); this reads the period's (created_at, seq)
    # index entries instead.
    shifted = F("seq") + 0
    bounds = in_period.filter(seq__isnull=False).aggregate(first=Min(shifted), last=Max(shifted))
    if bounds["first"] is not None:
        low = bounds["first"]
        while low <= bounds["last"]:
            high = min(low + AUDIT_CSV_READ, bounds["last"] + 1)
            # The period is checked here, not in SQL: with it there PostgreSQL sorted the
            # whole period for every slice. seq follows created_at, so few rows are dropped.
            yield from (
                AuditCsvRow(*values)
                for values in events.filter(seq__gte=low, seq__lt=high)
                .select_related(None)
                .order_by("seq")
                .values_list(*_AUDIT_CSV_COLUMNS)
                if since <= values[1] < until
            )
            low = high
    unsealed, after = in_period.filter(seq__isnull=True).select_related(None), 0
    while chunk := list(
        unsealed.filter(pk__gt=after)
        .order_by("pk")
        .values_list(*_AUDIT_CSV_COLUMNS)[:AUDIT_CSV_READ]
    ):
        yield from (AuditCsvRow(*values) for values in chunk)
        after = chunk[-1][0]


# The details an event's action words read (common/wording.event_sentence_by).
_WORDED_DETAILS = ("created", "to", "due_at", "on_behalf_of")


class _AuditCsvLookups:
    """What the CSV's lines name beyond the event's own columns, each read or worked out once
    per export: the step key of each task and the measure code of each case (read by key a
    chunk at a time: joined in the slice's query, PostgreSQL hashed the whole task and case
    tables), and the action words of each distinct (verb, worded details, actor when on
    behalf of someone) in the export's language."""

    def __init__(self):
        self.steps: dict[int, str] = {}
        self.codes: dict[int, str] = {}
        self.actions: dict[tuple, str] = {}
        self.actors: dict[int, object] = {}

    def load(self, rows: list[AuditCsvRow]) -> list[str]:
        """The rows' action words, with their tasks' steps and cases' codes loaded."""
        from django.contrib.auth import get_user_model

        from workflows.models import WorkItem

        tasks = {r.work_item_id for r in rows if r.work_item_id} - self.steps.keys()
        if tasks:
            self.steps.update(
                WorkItem.objects.filter(pk__in=tasks).order_by().values_list("pk", "step__key")
            )
        cases = {r.case_id for r in rows if r.case_id} - self.codes.keys()
        if cases:
            # Case objects would join viewflow's process table, which PostgreSQL hashed whole.
            self.codes.update(
                Case.objects.filter(pk__in=cases).order_by().values_list("pk", "measure__code")
            )
        keys = [self._key(row) for row in rows]
        unworded = {
            key: row for key, row in zip(keys, rows, strict=True) if key not in self.actions
        }
        if unworded:
            rows_to_word = list(unworded.values())
            # The actor is named only beside the person they stood in for.
            actors = {r.actor_id for r in rows_to_word if r.actor_id and self._on_behalf(r)}
            actors -= self.actors.keys()
            if actors:
                self.actors.update(
                    (user.pk, user) for user in get_user_model().objects.filter(pk__in=actors)
                )
            for row in rows_to_word:
                row.actor = self.actors.get(row.actor_id) if row.actor_id else None
            wording.events_primed(rows_to_word)  # the people and places named, a query each
            for key, row in unworded.items():
                self.actions[key] = wording.event_sentence_by(row)
        return [self.actions[key] for key in keys]

    @staticmethod
    def _key(row: AuditCsvRow) -> tuple:
        data = row.data if isinstance(row.data, dict) else {}
        named = tuple(
            (k, json.dumps(data[k], sort_keys=True)) for k in _WORDED_DETAILS if k in data
        )
        actor = (row.actor_id, row.actor_name) if _AuditCsvLookups._on_behalf(row) else None
        return (row.verb, named, actor)

    @staticmethod
    def _on_behalf(row: AuditCsvRow) -> bool:
        return isinstance(row.data, dict) and bool(row.data.get("on_behalf_of"))


class _Line:
    """A write-only file for csv.writer that hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(rows: Iterable[AuditCsvRow], *, language: str) -> Iterator[str]:
    """CSV lines for the events (as audit_events_in_chain_order reads them), produced one by
    one for a streaming response; the action in words in `language` (a streamed body is
    written after the request's language is gone)."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow(AUDIT_CSV_HEADER)
    lookups = _AuditCsvLookups()
    rows = iter(rows)
    while chunk := list(islice(rows, AUDIT_CSV_CHUNK)):
        with translation.override(language):
            actions = lookups.load(chunk)
        zone = timezone.get_current_timezone()
        steps, codes = lookups.steps, lookups.codes
        for row, action in zip(chunk, actions, strict=True):
            yield writer.writerow(
                [
                    row.pk,
                    row.created_at.astimezone(zone).isoformat(),
                    row.verb,
                    cell_value(row.actor_name),
                    row.case_id or "",
                    codes.get(row.case_id, "") if row.case_id else "",
                    row.work_item_id or "",
                    steps.get(row.work_item_id, "") if row.work_item_id else "",
                    cell_value(row.reason),
                    json.dumps(row.data, ensure_ascii=False, sort_keys=True),
                    cell_value(action),
                    row.seq or "",  # empty: not sealed into the chain yet
                    row.prev_hash or "",
                    row.hash or "",
                ]
            )
