"""Exactly one beat: a lease in the database, and a Celery beat scheduler that honours it.

Every beat process ticks, but only the one holding the lease (`BeatLease`) sends periodic
tasks; a second beat started by mistake, or a standby on another host, waits and takes over
within BEAT_LEASE_SECONDS once the holder stops renewing. The lease lives in the database
rather than Redis because the database is the one store every mode has (SQLite in the
embedded demo with its filesystem broker, PostgreSQL in production), it outlives a Redis
restart, and it needs no session state: plain conditional UPDATEs on the database's own
clock, so it also works through PgBouncer in transaction mode, where advisory locks do not.

The holder records each entry's last run in the lease before sending it, so a beat that
takes over continues the schedule instead of starting it afresh: a digest already sent at
08:30 is not sent again, and one due while nobody held the lease is sent late, once.
"""

import datetime as dt
import logging
import os
import socket
import uuid

from celery.beat import PersistentScheduler
from celery.utils.time import maybe_make_aware
from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now

logger = logging.getLogger(__name__)

LEASE_NAME = "beat"


def _until(seconds: float):
    # The database's clock, not the caller's: beats on different hosts may disagree.
    return ExpressionWrapper(Now() + dt.timedelta(seconds=seconds), output_field=DateTimeField())


def beat_lease_hold(*, holder: str, seconds: float, name: str = LEASE_NAME) -> bool:
    """Take the lease if it is free or expired, or renew it if `holder` has it; True if held."""
    from workflows.models import BeatLease

    free = Q(holder=holder) | Q(expires_at__isnull=True) | Q(expires_at__lte=Now())
    if BeatLease.objects.filter(free, name=name).update(holder=holder, expires_at=_until(seconds)):
        return True
    if BeatLease.objects.filter(name=name).exists():
        return False
    try:
        with transaction.atomic():
            BeatLease.objects.create(name=name, holder=holder, expires_at=_until(seconds))
    except IntegrityError:  # another beat created it first: it holds the lease
        return False
    return True


def beat_lease_record_run(
    *, holder: str, entry: str, at: dt.datetime, seconds: float, name: str = LEASE_NAME
) -> bool:
    """Note that `holder` sends `entry` now, renewing the lease; False (and nothing noted)
    if the lease is no longer `holder`'s, in which case the entry must not be sent."""
    from workflows.models import BeatLease

    with transaction.atomic():
        lease = (
            BeatLease.objects.select_for_update()
            .filter(name=name, holder=holder, expires_at__gt=Now())
            .first()
        )
        if lease is None:
            return False
        lease.last_runs = {**lease.last_runs, entry: at.isoformat()}
        lease.save(update_fields=["last_runs"])
        BeatLease.objects.filter(pk=lease.pk).update(expires_at=_until(seconds))
    return True


def beat_lease_last_runs(*, name: str = LEASE_NAME) -> dict[str, dt.datetime]:
    """When each entry was last sent by whichever beat held the lease."""
    from workflows.models import BeatLease

    lease = BeatLease.objects.filter(name=name).first()
    runs = lease.last_runs if lease is not None else {}
    return {entry: dt.datetime.fromisoformat(at) for entry, at in runs.items()}


def beat_lease_release(*, holder: str, name: str = LEASE_NAME) -> None:
    """Give the lease up (a clean shutdown), so a standby need not wait for it to expire."""
    from workflows.models import BeatLease

    BeatLease.objects.filter(name=name, holder=holder).update(holder="", expires_at=None)


class SingleBeatScheduler(PersistentScheduler):
    """celery beat's file-backed scheduler, sending only while it holds the beat lease.

    A standby does not walk its schedule at all; when it gets the lease it first adopts the
    last runs the previous holder recorded. The leader renews the lease at least every third
    of its length, and records each entry in the lease just before sending it.
    """

    def __init__(self, *args, **kwargs):
        self.lease_seconds = float(getattr(settings, "BEAT_LEASE_SECONDS", 30))
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leading = False
        super().__init__(*args, **kwargs)

    @property
    def renew_every(self) -> float:
        return max(self.lease_seconds / 3, 0.5)

    def _database(self, call) -> bool:
        """Run a lease operation; a database that does not answer means "not leading"."""
        close_old_connections()
        try:
            return call()
        except DatabaseError:
            logger.warning("beat lease: the database did not answer; not sending", exc_info=True)
            connection.close()
            return False

    def tick(self, *args, **kwargs):
        leading = self._database(
            lambda: beat_lease_hold(holder=self.holder, seconds=self.lease_seconds)
        )
        if leading and not self.leading:
            logger.info("beat lease taken by %s: this beat sends the periodic tasks", self.holder)
            self._adopt_last_runs()
        elif self.leading and not leading:
            logger.warning("beat lease lost by %s: standing by", self.holder)
        elif not leading and not self.leading:
            logger.debug("beat lease held by another beat: standing by")
        self.leading = leading
        if not leading:
            return self.renew_every
        return min(super().tick(*args, **kwargs), self.renew_every)

    def _adopt_last_runs(self) -> None:
        close_old_connections()
        try:
            shared = beat_lease_last_runs()
        except DatabaseError:
            logger.warning("beat lease: could not read the last runs", exc_info=True)
            return
        for name, entry in self.schedule.items():
            at = shared.get(name)
            if at is not None and at > maybe_make_aware(entry.last_run_at):
                entry.last_run_at = at
        self._heap = None  # rebuilt from the adopted times at the next tick

    def apply_entry(self, entry, producer=None):
        # tick() has just reserved the entry: the schedule holds its new last run time.
        at = maybe_make_aware(self.schedule[entry.name].last_run_at)
        recorded = self._database(
            lambda: beat_lease_record_run(
                holder=self.holder, entry=entry.name, at=at, seconds=self.lease_seconds
            )
        )
        if not recorded:
            logger.warning("beat lease lost before sending %s: left to the holder", entry.name)
            self.leading = False
            return
        super().apply_entry(entry, producer=producer)

    def close(self):
        try:
            if self.leading:
                self._database(lambda: beat_lease_release(holder=self.holder) or True)
        finally:
            super().close()
