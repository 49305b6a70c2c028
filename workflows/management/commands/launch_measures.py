from django.core.management.base import BaseCommand, CommandError

from workflows.cases.launch import case_launch
from workflows.models import Measure


class Command(BaseCommand):
    help = (
        "Launch a case for each named measure (or --all); measures with an open case are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("codes", nargs="*", metavar="CODE")
        parser.add_argument("--all", action="store_true", help="launch every measure")

    def handle(self, *args, codes, all, **options):
        if all == bool(codes):
            raise CommandError("Name measure codes or use --all (not both).")
        measures = Measure.objects.order_by("aspect__position", "position")
        if codes:
            found = {m.code: m for m in measures.filter(code__in=codes)}
            missing = [code for code in codes if code not in found]
            if missing:
                raise CommandError(f"Unknown measure code(s): {', '.join(missing)}")
            measures = [found[code] for code in codes]
        launched = skipped = 0
        for measure in measures:
            # A command runs as the system, not as a user; the audit trail records no actor.
            case, created = case_launch(measure=measure, by=None)
            if created:
                launched += 1
                self.stdout.write(f"{measure.code}: launched case {case.pk}")
            else:
                skipped += 1
                self.stdout.write(f"{measure.code}: already open as case {case.pk}, skipped")
        self.stdout.write(f"{launched} launched, {skipped} already open")
