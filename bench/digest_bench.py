"""The 08:30 digest for 5,000 users, sent to a real SMTP server on loopback, one connection per
batch. Runs inside a transaction that is rolled back."""

import logging
import os
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")
import django  # noqa: E402

django.setup()
from aiosmtpd.controller import Controller  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from workflows.models import WorkItem  # noqa: E402
from workflows.notifications.delivery import notifications_deliver_due  # noqa: E402
from workflows.notifications.digest import digest_record_all  # noqa: E402

USERS = int(os.environ.get("BENCH_DIGEST_USERS", "5000"))


class Sink:
    def __init__(self):
        self.messages = 0
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages += 1
        return "250 OK"


class Rollback(Exception):
    pass


def main() -> None:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = False
    # Measure the sending whatever the hour: quiet hours would hold it until 07:00.
    settings.NOTIFICATION_QUIET_HOURS = ""
    # The users with open work: department heads and staff of the federations.
    user_ids = list(
        WorkItem.objects.filter(status="open", department__head__isnull=False)
        .values_list("department__head", flat=True)
        .distinct()[:USERS]
    )
    users = get_user_model().objects.filter(pk__in=user_ids)
    now = timezone.now()
    try:
        with transaction.atomic():
            started = time.perf_counter()
            recorded = digest_record_all(now=now, users=users)
            record_seconds = time.perf_counter() - started
            delivered = notifications_deliver_due(now=now)
            total_seconds = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    finally:
        controller.stop()
    print("| users | digests recorded | record | record + send | sent | SMTP connections |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {len(user_ids)} | {recorded} | {record_seconds:.1f} s | {total_seconds:.1f} s | "
        f"{delivered.sent} | {sink.connections} |",
        flush=True,
    )


if __name__ == "__main__":
    main()
