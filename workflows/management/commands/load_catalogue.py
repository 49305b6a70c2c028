"""`manage.py load_catalogue [PLAN_FILE [ORGANISATION_FILE]]` or `load_catalogue FILE.xlsx`:
load or refresh the catalogue from the YAML files or from a workbook (export_catalogue's)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workflows.catalogue.loader import catalogue_load
from workflows.catalogue.reading import CatalogueError
from workflows.catalogue.xlsx_import import catalogue_load_workbook

NO_CHANGES = "No changes: the catalogue is already up to date."


class Command(BaseCommand):
    help = (
        "Load the reform-plan catalogue (plan and organisation YAML files) into the database. "
        "Safe to re-run: unchanged rows are not written, and a bad file changes nothing. "
        "Prints a one-line summary last (nothing with -v0; per-kind counts with -v2)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "plan_file",
            nargs="?",
            type=Path,
            help="plan YAML (default: settings.DEFAULT_PLAN_FILE), or a workbook (.xlsx) "
            "holding the plan and the organisation",
        )
        parser.add_argument(
            "organisation_file",
            nargs="?",
            type=Path,
            help="organisation YAML (default: settings.DEFAULT_ORGANISATION_FILE)",
        )

    def handle(self, *args, plan_file=None, organisation_file=None, **options):
        workbook = plan_file is not None and plan_file.suffix.lower() == ".xlsx"
        if workbook and organisation_file is not None:
            raise CommandError(
                f"{plan_file.name} holds the organisation too: give the workbook alone"
            )
        try:
            if workbook:
                result = catalogue_load_workbook(path=plan_file)
            else:
                result = catalogue_load(
                    plan_path=plan_file or Path(settings.DEFAULT_PLAN_FILE),
                    organisation_path=organisation_file or Path(settings.DEFAULT_ORGANISATION_FILE),
                )
        except CatalogueError as exc:
            raise CommandError(str(exc)) from exc

        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(warning))
        if options["verbosity"] >= 2:
            for kind, counts in result.rows.items():
                details = ", ".join(f"{status} {count}" for status, count in counts.items())
                self.stdout.write(f"  {kind}: {details or 'none'}")
        if options["verbosity"] == 0:
            return
        if not result.changed:
            self.stdout.write(NO_CHANGES)
        self.stdout.write(result.summary())
