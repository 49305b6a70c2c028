"""Run one sweep (timers, reminders, escalations, delivery), optionally as if at another time."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from workflows.common.bounds import validate_date_in_horizon
from workflows.common.calendar import SHANGHAI
from workflows.sweep import sweep_run


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"--now {text!r} is not an ISO date-time, e.g. 2027-03-08T10:00"
        ) from exc
    # A bare date-time is read in the programme's time zone, as people in the office say it.
    moment = moment if timezone.is_aware(moment) else moment.replace(tzinfo=SHANGHAI)
    try:
        validate_date_in_horizon(moment)
    except ValidationError as exc:
        raise CommandError(f"--now {text!r}: {' '.join(exc.messages)}") from None
    return moment


class Command(BaseCommand):
    help = "Run one sweep: fire due timers, record due reminders and escalations, send mail."

    def add_arguments(self, parser):
        parser.add_argument("--now", help="ISO date-time to sweep as if it were (drills, tests)")
        parser.add_argument("--no-send", action="store_true", help="record but do not send")

    def handle(self, *args, **options):
        now = _moment(options["now"]) if options["now"] else None
        result = sweep_run(now=now, deliver=not options["no_send"])
        self.stdout.write(str(result))
