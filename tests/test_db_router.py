"""The read replica router on the normal test database: `replica` mirrors `default` (two
connections to one database), so which connection ran a query shows where a read went."""

import importlib
import sys

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.smtp import free_port
from workflows.common import db_router
from workflows.common.db_router import REPLICA, ReplicaRouter, replica_reads
from workflows.models import Aspect, Measure

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def _reads(captured, table: str) -> int:
    return sum(f'"{table}"' in query["sql"] for query in captured.captured_queries)


class Where:
    """Counts the queries on a table that ran on the replica and on the primary (only the
    primary's when the replica is cut: watching it would connect to it)."""

    def __init__(self, table: str, *, replica: bool = True):
        self.table = table
        self.watch_replica = replica

    def __enter__(self):
        self.primary = CaptureQueriesContext(connections["default"])
        self.primary.__enter__()
        if self.watch_replica:
            self.replica = CaptureQueriesContext(connections[REPLICA])
            self.replica.__enter__()
        return self

    def __exit__(self, *exc):
        # Counted now: the captured list is a slice of a log the next request clears.
        if self.watch_replica:
            self.replica.__exit__(*exc)
            self.on_replica = _reads(self.replica, self.table)
        self.primary.__exit__(*exc)
        self.on_primary = _reads(self.primary, self.table)


@pytest.fixture
def replica_on(settings):
    """Replica reads switched on, its health checked afresh on every block."""
    settings.REPLICA_READS = True
    settings.REPLICA_CHECK_SECONDS = 0
    settings.REPLICA_MAX_LAG_SECONDS = 10
    settings.REPLICA_DOWN_SECONDS = 0
    db_router._health.until = float("-inf")
    yield settings
    db_router._health.until = float("-inf")


@pytest.fixture
def replica_cut():
    """Points the replica alias at an address where nothing answers (a real failed connect)."""
    replica = connections[REPLICA]
    saved = dict(replica.settings_dict)

    def cut():
        if replica.vendor == "postgresql":
            replica.settings_dict.update(HOST="127.0.0.1", PORT=free_port())
        else:
            replica.settings_dict["NAME"] = "/nonexistent/reformflow/replica.sqlite3"
        # After the new address: Django never closes an in-memory SQLite connection.
        replica.close()

    yield cut
    replica.close()
    replica.settings_dict.clear()
    replica.settings_dict.update(saved)


def test_reads_in_a_replica_block_go_to_the_replica_and_nothing_else_does(replica_on, catalogue):
    with Where("workflows_measure") as where:
        with replica_reads() as block:
            inside = Measure.objects.count()
        outside = Measure.objects.count()
    assert block.used
    assert inside == outside == 30
    assert (where.on_replica, where.on_primary) == (1, 1)


def test_writes_in_a_replica_block_go_to_the_primary(replica_on, catalogue):
    with Where("workflows_aspect") as where, replica_reads() as block:
        Aspect.objects.filter(code="1").update(position=99)
        # An object read from the replica is saved to the primary.
        aspect = Aspect.objects.get(code="2")
        read_from = aspect._state.db
        aspect.position = 98
        aspect.save(update_fields=["position"])
    assert block.used
    assert where.on_primary == 2  # the two UPDATEs
    assert where.on_replica == 1  # the get()
    assert (read_from, aspect._state.db) == (REPLICA, "default")
    positions = dict(Aspect.objects.filter(code__in=["1", "2"]).values_list("code", "position"))
    assert positions == {"1": 99, "2": 98}


def test_without_the_replica_switched_on_every_read_stays_on_the_primary(settings, catalogue):
    settings.REPLICA_READS = False
    with Where("workflows_measure") as where, replica_reads() as block:
        Measure.objects.count()
    assert not block.used
    assert (where.on_replica, where.on_primary) == (0, 1)


def test_a_replica_that_does_not_answer_is_skipped(replica_on, replica_cut, catalogue):
    replica_cut()
    with Where("workflows_measure", replica=False) as where, replica_reads() as block:
        assert Measure.objects.count() == 30
    assert not block.used
    assert where.on_primary == 1


def test_a_replica_that_did_not_answer_is_left_alone_for_a_while(
    replica_on, replica_cut, catalogue
):
    replica_on.REPLICA_DOWN_SECONDS = 60
    replica_cut()
    with replica_reads() as down:
        pass
    replica = connections[REPLICA]
    replica.settings_dict.update(connections["default"].settings_dict)  # back up at once
    with replica_reads() as still_down:
        pass
    replica_on.REPLICA_DOWN_SECONDS = 0
    db_router._health.until = float("-inf")  # the minute has passed
    with replica_reads() as back:
        pass
    assert (down.used, still_down.used, back.used) == (False, False, True)


def test_a_replica_lagging_past_the_limit_is_skipped(replica_on, catalogue):
    # The mirror never lags: a limit below zero makes its 0 s lag too much.
    replica_on.REPLICA_MAX_LAG_SECONDS = -1
    with Where("workflows_measure") as where, replica_reads() as block:
        Measure.objects.count()
    assert not block.used
    assert where.on_primary == 1


def test_the_health_check_is_cached_and_a_page_that_meets_a_dead_replica_is_read_again(
    replica_on, replica_cut, demo_users, client
):
    replica_on.REPLICA_CHECK_SECONDS = 60
    replica_on.REPLICA_DOWN_SECONDS = 60
    with replica_reads() as first:
        pass
    assert first.used  # checked: healthy, and remembered for a minute
    replica_cut()
    client.force_login(demo_users("auditor"))
    with Where("workflows_measure", replica=False) as where:
        response = client.get("/workflows/dashboard/")
    assert response.status_code == 200
    assert "2.2" in response.content.decode()
    assert where.on_primary >= 1
    # The failure marked the replica down: the next block does not try it again.
    with replica_reads() as after:
        pass
    assert not after.used


def test_the_dashboard_reads_from_the_replica(replica_on, demo_users, client):
    client.force_login(demo_users("auditor"))
    with Where("workflows_measure") as where:
        response = client.get("/workflows/dashboard/")
    assert response.status_code == 200
    assert where.on_replica >= 1 and where.on_primary == 0


def test_a_users_reads_right_after_their_own_write_go_to_the_primary(replica_on, demo_users):
    coordinator, auditor = demo_users("coordinator.office"), demo_users("auditor")
    clients = {}
    for user in (coordinator, auditor):
        clients[user.username] = APIClient()
        token = Token.objects.create(user=user)
        clients[user.username].credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    measures = "/api/v1/measures/"
    with Where("workflows_measure") as before:
        assert clients["coordinator.office"].get(measures).status_code == 200
    launched = clients["coordinator.office"].post("/api/v1/cases/", {"measure": "2.2"})
    assert launched.status_code == 201
    with Where("workflows_measure") as own:
        rows = clients["coordinator.office"].get(measures).json()
    with Where("workflows_measure") as other:
        assert clients["auditor"].get(measures).status_code == 200
    assert before.on_replica >= 1 and before.on_primary == 0
    # The coordinator sees their launch at once: their reads are on the primary for a while.
    assert own.on_replica == 0 and own.on_primary >= 1
    assert next(row for row in rows if row["code"] == "2.2")["status"] == "open"
    # Someone who wrote nothing keeps reading from the replica.
    assert other.on_replica >= 1 and other.on_primary == 0


def test_the_write_stamp_expires(replica_on, demo_users, client):
    replica_on.READ_YOUR_WRITES_SECONDS = 1
    coordinator = demo_users("coordinator.office")
    db_router.write_stamp(coordinator)
    from django.core.cache import cache

    assert cache.get(db_router.WRITE_STAMP_KEY.format(coordinator.pk)) == 1
    cache.delete(db_router.WRITE_STAMP_KEY.format(coordinator.pk))  # as if the second passed
    client.force_login(coordinator)
    with Where("workflows_measure") as where:
        assert client.get("/workflows/dashboard/").status_code == 200
    assert where.on_replica >= 1


def test_a_request_that_writes_never_reads_from_the_replica(replica_on, demo_users, client):
    client.force_login(demo_users("coordinator.office"))
    with Where("workflows_measure") as where:
        # The appraisal page recomputes on POST (a coordinator's write) and reads on GET.
        response = client.post("/workflows/appraisal/", {"period": "2026-01"})
    assert response.status_code == 302
    assert where.on_replica == 0


def test_caught_up_reads_need_the_replica_to_have_replayed_every_commit(replica_on, catalogue):
    # The mirror is the primary itself: it has everything, so the replica is chosen.
    with Where("workflows_measure") as where, replica_reads(caught_up=True) as block:
        Measure.objects.count()
    assert block.used and where.on_replica == 1


def test_nested_blocks_keep_the_outer_choice(replica_on, replica_cut, catalogue):
    with replica_reads() as outer:
        replica_cut()  # the inner block would find it down, but keeps the outer choice
        with replica_reads() as inner:
            pass
    assert outer.used and inner.used


def test_migrations_run_only_on_the_primary():
    router = ReplicaRouter()
    assert router.allow_migrate("default", "workflows")
    assert not router.allow_migrate(REPLICA, "workflows")
    assert router.db_for_write(Measure) == "default"
    assert router.db_for_read(Measure) == "default"


def _settings_module(monkeypatch, module: str, **environ):
    for name in ("DATABASE_URL", "DATABASE_REPLICA_URL", "DATABASE_POOLING", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    for name in [m for m in sys.modules if m.startswith("project.settings.")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module(module)


@pytest.mark.parametrize("module", ["project.settings.local", "project.settings.production"])
def test_database_replica_url_adds_a_fail_fast_replica_alias(monkeypatch, module):
    loaded = _settings_module(
        monkeypatch,
        module,
        DATABASE_URL="postgres://rf@db.example:5432/reformflow",
        DATABASE_REPLICA_URL="postgres://rf@replica.example:5432/reformflow",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="rf.example",
    )
    replica = loaded.DATABASES["replica"]
    assert (replica["HOST"], replica["NAME"]) == ("replica.example", "reformflow")
    assert replica["OPTIONS"]["connect_timeout"] == 2
    assert replica["TEST"] == {"MIRROR": "default"}
    assert loaded.DATABASE_ROUTERS == ["workflows.common.db_router.ReplicaRouter"]
    assert loaded.REPLICA_READS is True


def test_without_a_replica_url_there_is_no_replica_alias(monkeypatch):
    loaded = _settings_module(monkeypatch, "project.settings.local")
    assert list(loaded.DATABASES) == ["default"]


@pytest.mark.parametrize("module", ["project.settings.local", "project.settings.production"])
def test_behind_pgbouncer_in_transaction_mode_no_server_side_cursors(monkeypatch, module):
    loaded = _settings_module(
        monkeypatch,
        module,
        DATABASE_URL="postgres://rf@pgbouncer.example:6432/reformflow",
        DATABASE_REPLICA_URL="postgres://rf@pgbouncer.example:6432/reformflow_replica",
        DATABASE_POOLING="transaction",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="rf.example",
    )
    assert loaded.DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert loaded.DATABASES["replica"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    monkeypatch.delenv("DATABASE_POOLING")
    plain = _settings_module(
        monkeypatch,
        module,
        DATABASE_URL="postgres://rf@db/reformflow",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="rf.example",
    )
    assert "DISABLE_SERVER_SIDE_CURSORS" not in plain.DATABASES["default"]
