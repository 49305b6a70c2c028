"""`manage.py export_catalogue FILE.xlsx`: the catalogue as a workbook an office can edit."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from workflows.catalogue.reading import CatalogueError
from workflows.catalogue.xlsx_export import catalogue_export


class Command(BaseCommand):
    help = (
        "Write the catalogue (aspects, measures, steps, departments, leader posts, step roles, "
        "levels and the plan's notes) to an Excel workbook; load_catalogue FILE.xlsx reads it back."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the workbook to write (.xlsx)")

    def handle(self, *args, file: Path, **options):
        if file.suffix.lower() != ".xlsx":
            raise CommandError(f"{file.name}: the file name must end in .xlsx")
        try:
            content = catalogue_export()
        except CatalogueError as exc:
            raise CommandError(exc.message) from exc
        file.write_bytes(content)
        if options["verbosity"]:
            self.stdout.write(f"Wrote {file} ({len(content)} bytes).")
