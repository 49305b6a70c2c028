from django.core.management.base import BaseCommand, CommandError

from workflows.audit.files import MISSING, OK, TAMPERED, files_verify


class Command(BaseCommand):
    help = (
        "Read back every stored evidence and report file and compare it with its recorded "
        "SHA-256; print the counts (OK, missing, tampered) and each problem, exit 1 on any. "
        "Each run is audited."
    )

    def handle(self, *args, **options):
        result = files_verify(by=None)
        counts = result.counts
        summary = (
            f"{result.checked} files: {counts[OK]} OK, {counts[MISSING]} missing, "
            f"{counts[TAMPERED]} tampered"
        )
        if not result.ok:
            for problem in result.problems:
                self.stderr.write(str(problem))
            # CommandError: manage.py prints it on stderr and exits with status 1.
            raise CommandError(f"PROBLEMS: {summary}")
        self.stdout.write(f"OK: {summary}")
