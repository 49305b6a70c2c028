from django.core.management.base import BaseCommand, CommandError

from workflows.organisations.services import OrganisationImportError, organisations_import


class Command(BaseCommand):
    help = (
        "Import subordinate organisations from a CSV or XLSX file (columns code, name_en/name_zh, "
        "level, parent). Every bad line is reported; nothing is imported unless all are good."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .csv (UTF-8) or .xlsx file")

    def handle(self, *args, file, **options):
        try:
            result = organisations_import(path=file)
        except OrganisationImportError as exc:
            raise CommandError(
                "Nothing was imported; fix these lines:\n  " + "\n  ".join(exc.errors)
            ) from exc
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from exc
        self.stdout.write(
            f"{len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged."
        )
