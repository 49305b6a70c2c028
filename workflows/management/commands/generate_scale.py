"""Create a national-scale benchmark data set (bench/ uses it): N federations x 30 cases, and
with --history a year of audit trail, feedback cycles, notifications and scored months."""

import time

from django.core.management.base import BaseCommand, CommandError

from workflows.demo.scale import generate
from workflows.demo.scale_history import generate_history


class Command(BaseCommand):
    help = (
        "Create N federations below the national one, each with 30 cases at spread-out steps; "
        "--history adds a year of audit trail, feedback cycles, notifications and scores."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organisations", type=int, required=True)
        parser.add_argument("--seed", type=int, default=2018)
        parser.add_argument("--overdue-share", type=float, default=0.05)
        parser.add_argument(
            "--history",
            action="store_true",
            help="then add a year of history to every generated case (issue 20)",
        )
        parser.add_argument("--history-months", type=int, default=12)
        parser.add_argument(
            "--history-events", type=int, default=1_100_000, help="audit events over the year"
        )

    def handle(self, *args, organisations, seed, overdue_share, history, **options):
        if organisations < 0 or (organisations == 0 and not history):
            raise CommandError("--organisations must be at least 1 (0 only with --history)")
        started = time.perf_counter()
        if organisations:
            result = generate(
                organisations=organisations,
                seed=seed,
                overdue_share=overdue_share,
                stdout=self.stdout,
            )
            self.stdout.write(
                f"{result.organisations} organisations, {result.users} users, {result.cases} "
                f"cases, {result.work_items} tasks ({result.open_items} open, "
                f"{result.overdue_items} overdue), {result.progress_updates} progress updates, "
                f"{result.notifications} notifications in {time.perf_counter() - started:.1f} s"
            )
        if history:
            began = time.perf_counter()
            months, events = options["history_months"], options["history_events"]
            if months < 1 or events < 0:
                raise CommandError("--history-months must be at least 1, --history-events >= 0")
            done = generate_history(months=months, events=events, seed=seed, stdout=self.stdout)
            self.stdout.write(
                f"history: {done.cycles} feedback cycles, {done.events} audit events, "
                f"{done.notifications} notifications, {done.score_entries} score entries over "
                f"{done.months_scored} months in {time.perf_counter() - began:.1f} s"
            )
