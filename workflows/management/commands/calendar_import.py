"""Enter a year's official holiday schedule (CSV: date,kind,name[,note]) as calendar overrides."""

import csv
import datetime as dt
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from workflows.common.bounds import validate_date_in_horizon
from workflows.deadlines.due_dates import calendar_days_changed
from workflows.models import CalendarDay, CalendarDayKind


def _rows(path: Path) -> list[dict]:
    """Parsed rows, or CommandError naming the first bad line and field; nothing is written."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from exc
    reader = csv.DictReader(text.splitlines())
    missing = {"date", "kind"} - set(reader.fieldnames or ())
    if missing:
        raise CommandError(f"{path.name} line 1: missing column(s) {', '.join(sorted(missing))}")
    rows, seen = [], {}
    for line_no, raw in enumerate(reader, start=2):
        try:
            day = dt.date.fromisoformat((raw.get("date") or "").strip())
        except ValueError:
            raise CommandError(
                f"{path.name} line {line_no}: date: {raw.get('date')!r} is not YYYY-MM-DD"
            ) from None
        try:
            validate_date_in_horizon(day)
        except ValidationError as exc:
            raise CommandError(
                f"{path.name} line {line_no}: date: {day} is out of range. {' '.join(exc.messages)}"
            ) from None
        kind = (raw.get("kind") or "").strip()
        if kind not in CalendarDayKind.values:
            raise CommandError(
                f"{path.name} line {line_no}: kind: {kind!r} must be one of "
                f"{', '.join(CalendarDayKind.values)}"
            )
        if day in seen:
            raise CommandError(
                f"{path.name} line {line_no}: date: {day} is already on line {seen[day]}"
            )
        seen[day] = line_no
        rows.append(
            {
                "date": day,
                "kind": kind,
                "name": (raw.get("name") or "").strip()[:100],
                "note": (raw.get("note") or "").strip()[:300],
            }
        )
    return rows


class Command(BaseCommand):
    help = "Load official holidays and make-up days; open tasks whose due date moves are updated."

    def add_arguments(self, parser):
        parser.add_argument("csv_file", type=Path)

    def handle(self, *args, csv_file: Path, **options):
        rows = _rows(csv_file)
        with transaction.atomic():
            for row in rows:
                CalendarDay.objects.update_or_create(
                    date=row["date"], defaults={k: v for k, v in row.items() if k != "date"}
                )
            moved = calendar_days_changed(
                verb="calendar_imported", days=rows, data={"file": csv_file.name}
            )
        self.stdout.write(f"{len(rows)} calendar days loaded; {moved} open due dates moved.")
