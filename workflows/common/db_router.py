"""Heavy reads on the streaming replica, when one is configured; everything else on the primary.

Nothing reads from the replica unless it asks to: `replica_reads()` (a context manager and a
decorator) around the heavy read-only work (the dashboard and its API twin, exports, the
data of PDF reports and bulletins, the appraisal, the audit search), and `replica_view` for
such a page. Inside, reads go to the alias `replica` (DATABASE_REPLICA_URL); writes, and
every read outside such a block, go to the primary. Three rules keep users from seeing
their own work undone:

- read-your-writes: a request that writes never reads the replica, and a user who wrote in
  the last READ_YOUR_WRITES_SECONDS reads from the primary (a stamp per user in the shared
  cache, so it holds on every web host and for token clients; an unreadable cache counts as
  a recent write);
- freshness: the replica is used only while it streams from the primary with a replay lag
  under REPLICA_MAX_LAG_SECONDS, checked at most every REPLICA_CHECK_SECONDS per process; a
  replica that does not answer is left alone for REPLICA_DOWN_SECONDS, and a page that meets
  a replica error part-way is read again from the primary;
- `replica_reads(caught_up=True)`, for background work queued right after a commit (report
  renders), uses the replica only if it has replayed everything the primary had written
  when the block began.
"""

import logging
import threading
import time
from contextlib import ContextDecorator
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.template.response import SimpleTemplateResponse
from rest_framework.response import Response

logger = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = DEFAULT_DB_ALIAS
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_STAMP_KEY = "reformflow:recent_write:{}"

# The alias reads go to inside a replica_reads() block (None outside any block), and the
# request being served, set by ReadYourWritesMiddleware.
_reads_from: ContextVar[str | None] = ContextVar("reformflow_reads_from", default=None)
_current_request: ContextVar = ContextVar("reformflow_request", default=None)


def replica_configured() -> bool:
    """Whether replica reads are on: a `replica` database and REPLICA_READS."""
    return REPLICA in settings.DATABASES and bool(getattr(settings, "REPLICA_READS", False))


# --------------------------------------------------------------------------- health

# Replay lag in seconds; NULL when the replica is not streaming from a primary (its WAL
# receiver is gone, so "no lag" would be a lie). Without pg_read_all_stats a role sees the
# receiver's pid but not its status. A server that is not in recovery has no lag.
_LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN NOT EXISTS (
        SELECT 1 FROM pg_stat_wal_receiver
        WHERE status = 'streaming' OR (status IS NULL AND pid IS NOT NULL)
    ) THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
"""


class _Health:
    """The replica's last known state in this process, and until when it holds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.until = float("-inf")
        self.usable = False
        self.lag: float | None = None

    def mark(self, usable: bool, lag: float | None) -> None:
        # A replica that did not answer is left alone longer than one that merely lags: each
        # try at a dead host costs a request the connect timeout.
        hold = settings.REPLICA_CHECK_SECONDS if lag is not None else settings.REPLICA_DOWN_SECONDS
        self.until, self.usable, self.lag = time.monotonic() + hold, usable, lag


_health = _Health()


def replica_lag() -> float | None:
    """The replica's replay lag in seconds now (0 when caught up); None when it is down or
    not streaming. Queries the replica."""
    connection = connections[REPLICA]
    try:
        if connection.vendor != "postgresql":
            connection.ensure_connection()
            return 0.0
        with connection.cursor() as cursor:
            cursor.execute(_LAG_SQL)
            (lag,) = cursor.fetchone()
    except DatabaseError:
        logger.warning("replica unreachable: heavy reads fall back to the primary")
        _close_replica()
        return None
    return None if lag is None else float(lag)


def replica_usable() -> bool:
    """Whether the replica may serve reads now: up, streaming, and lagging less than
    REPLICA_MAX_LAG_SECONDS (cached in this process for REPLICA_CHECK_SECONDS, or for
    REPLICA_DOWN_SECONDS after it did not answer)."""
    with _health.lock:
        if time.monotonic() < _health.until:
            return _health.usable
        lag = replica_lag()
        usable = lag is not None and lag <= settings.REPLICA_MAX_LAG_SECONDS
        if lag is not None and not usable:
            logger.warning("replica %.1f s behind: heavy reads fall back to the primary", lag)
        _health.mark(usable, lag)
        return usable


def replica_mark_down() -> None:
    """Stop using the replica in this process until the next check (it just failed a read)."""
    with _health.lock:
        _health.mark(False, None)
    _close_replica()


def _close_replica() -> None:
    try:
        connections[REPLICA].close()
    except DatabaseError:  # closing a connection to a dead host may fail as well
        logger.debug("closing the replica connection failed", exc_info=True)


def _caught_up() -> bool:
    """Whether the replica has replayed all the primary had written a moment ago."""
    if connections[PRIMARY].vendor != "postgresql":
        return True
    try:
        with connections[PRIMARY].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            (position,) = cursor.fetchone()
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)", [position]
            )
            (caught_up,) = cursor.fetchone()
    except DatabaseError:
        replica_mark_down()
        return False
    return bool(caught_up)


# --------------------------------------------------------------------------- read-your-writes


def _wrote_recently(request) -> bool:
    if request is None:
        return False
    if request.method not in SAFE_METHODS:
        return True
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    try:
        return bool(cache.get(WRITE_STAMP_KEY.format(user.pk)))
    except Exception:  # noqa: BLE001 - no cache, no proof the user did not just write
        return True


def write_stamp(user) -> None:
    """Send `user`'s reads to the primary for the next READ_YOUR_WRITES_SECONDS."""
    try:
        cache.set(WRITE_STAMP_KEY.format(user.pk), 1, timeout=settings.READ_YOUR_WRITES_SECONDS)
    except Exception:  # noqa: BLE001 - the write is done; reads then may lag a moment
        logger.warning("could not stamp a write for read-your-writes", exc_info=True)


class ReadYourWritesMiddleware:
    """Makes the request known to replica_reads(), and stamps users after a successful write."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _current_request.reset(token)
        if request.method not in SAFE_METHODS and response.status_code < 400:
            # Token clients are known only once DRF has authenticated them, inside the view.
            user = getattr(request, "user", None)
            if replica_configured() and user is not None and user.is_authenticated:
                write_stamp(user)
        return response


# --------------------------------------------------------------------------- routing


class replica_reads(ContextDecorator):  # noqa: N801 - used like contextlib's lower-case helpers
    """Reads inside this block go to the replica when it is configured, healthy and fresh
    enough for this user; `used` says whether it was chosen. Nested blocks keep the
    outer choice. `caught_up=True` also requires everything written so far to be replayed."""

    def __init__(self, *, caught_up: bool = False):
        self.caught_up = caught_up
        self.used = False
        self._token = None

    def _recreate_cm(self):
        # A fresh block per call when used as a decorator (the instance is shared).
        return type(self)(caught_up=self.caught_up)

    def _choose(self) -> str:
        outer = _reads_from.get()
        if outer is not None:
            return outer
        if not replica_configured() or _wrote_recently(_current_request.get()):
            return PRIMARY
        if not replica_usable() or (self.caught_up and not _caught_up()):
            return PRIMARY
        return REPLICA

    def __enter__(self):
        alias = self._choose()
        self.used = alias == REPLICA
        self._token = _reads_from.set(alias)
        return self

    def __exit__(self, *exc_info):
        _reads_from.reset(self._token)
        return False


def _streamed_from(alias: str, chunks):
    # A streamed response is read after the view returns: each chunk reads where it began.
    iterator = iter(chunks)
    while True:
        token = _reads_from.set(alias)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _reads_from.reset(token)
        yield chunk


def _finished(response, block: replica_reads):
    """The response with every read done inside the block (templates rendered, streams
    bound to the block's database)."""
    # An API response holds its data already; DRF renders it once content negotiation is done.
    if isinstance(response, SimpleTemplateResponse) and not isinstance(response, Response):
        if not response.is_rendered:
            response.render()
    if getattr(response, "streaming", False):
        response.streaming_content = _streamed_from(
            REPLICA if block.used else PRIMARY, response.streaming_content
        )
    return response


def replica_view(view):
    """A read-only page (GET/HEAD) whose reads go to the replica when replica_reads() allows;
    if the replica fails part-way, it is marked down and the page is read from the primary."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return view(request, *args, **kwargs)
        block = replica_reads()
        with block:
            try:
                return _finished(view(request, *args, **kwargs), block)
            except (OperationalError, InterfaceError):
                if not block.used:
                    raise
                logger.warning("replica failed during %s: read again from the primary", view)
                replica_mark_down()
        return view(request, *args, **kwargs)

    return wrapper


class ReplicaRouter:
    """Reads inside replica_reads() to the replica; all other reads and every write to the
    primary; migrations only on the primary (the replica replays them)."""

    def db_for_read(self, model, **hints):
        return _reads_from.get() or PRIMARY

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY
