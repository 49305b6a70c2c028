import os

from django.core.management.base import BaseCommand, CommandError

from workflows.demo.accounts import (
    DemoSeedRefused,
    demo_guide_case_launch,
    demo_logins_by_role,
    demo_password_generate,
    demo_seed,
)
from workflows.models import Organisation


class Command(BaseCommand):
    help = "Create demo accounts for every role (password from DEMO_PASSWORD, else random)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--summary",
            action="store_true",
            help="Print one existing login per role (changes nothing); used by `make demo`.",
        )
        parser.add_argument(
            "--provinces",
            type=int,
            default=0,
            help="also create this many provincial federations with accounts (at most 6)",
        )
        parser.add_argument(
            "--launch-first",
            action="store_true",
            help="also launch the catalogue's first measure, the one the demo guide follows",
        )
        parser.add_argument(
            "--prefectures",
            type=int,
            default=0,
            help="and this many prefecture (city) federations in each province",
        )

    def handle(self, *args, provinces=0, prefectures=0, launch_first=False, **options):
        if not Organisation.objects.filter(parent__isnull=True).exists():
            raise CommandError("Load the catalogue first: python manage.py load_catalogue")
        if options["summary"]:
            self._summary()
            return
        password = os.environ.get("DEMO_PASSWORD") or demo_password_generate()
        try:
            logins = demo_seed(password=password, provinces=provinces, prefectures=prefectures)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except DemoSeedRefused as exc:
            raise CommandError(str(exc)) from exc
        width = max(len(login.username) for login in logins)
        self.stdout.write("Demo logins (all share one password):")
        for login in logins:
            self.stdout.write(f"  {login.username.ljust(width)}  {login.role}")
        source = "from DEMO_PASSWORD" if os.environ.get("DEMO_PASSWORD") else "generated"
        self.stdout.write(f"Password ({source}): {password}")
        if launch_first:
            case, created = demo_guide_case_launch()
            if case is not None:
                state = "launched" if created else "already open"
                self.stdout.write(f"Measure {case.measure.code}: case {case.pk} {state}")

    def _summary(self):
        logins = demo_logins_by_role()
        if not logins:
            raise CommandError("No demo accounts yet: run python manage.py seed_demo first")
        width = max(len(login.username) for login in logins)
        for login in logins:
            self.stdout.write(f"    {login.username.ljust(width)}  {login.role}")
        if os.environ.get("DEMO_PASSWORD"):
            self.stdout.write(f"  Password (all of them): {os.environ['DEMO_PASSWORD']}")
        else:
            self.stdout.write(
                "  Password: the one seed_demo printed (set DEMO_PASSWORD to choose it)"
            )
