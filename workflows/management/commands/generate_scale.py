"""Create a national-scale benchmark data set (bench/ uses it): N federations x 30 cases."""

import time

from django.core.management.base import BaseCommand, CommandError

from workflows.demo.scale import generate


class Command(BaseCommand):
    help = "Create N federations below the national one, each with 30 cases at spread-out steps."

    def add_arguments(self, parser):
        parser.add_argument("--organisations", type=int, required=True)
        parser.add_argument("--seed", type=int, default=2018)
        parser.add_argument("--overdue-share", type=float, default=0.05)

    def handle(self, *args, organisations, seed, overdue_share, **options):
        if organisations < 1:
            raise CommandError("--organisations must be at least 1")
        started = time.perf_counter()
        result = generate(
            organisations=organisations, seed=seed, overdue_share=overdue_share, stdout=self.stdout
        )
        self.stdout.write(
            f"{result.organisations} organisations, {result.users} users, {result.cases} cases, "
            f"{result.work_items} tasks ({result.open_items} open, {result.overdue_items} "
            f"overdue), {result.progress_updates} progress updates, {result.notifications} "
            f"notifications in {time.perf_counter() - started:.1f} s"
        )
