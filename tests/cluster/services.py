"""The cluster's hosts and what runs on each: a PostgreSQL primary and Redis, a streaming
replica, two gunicorn hosts, two Celery worker hosts (a worker for sweeps and mail, one for
renders), a beat host, and an SMTP receiver. Everything lives under one temporary folder."""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.cluster.net import BRIDGE_ADDRESS, SUBNET, Host, bridge_create

ROOT = Path(__file__).resolve().parents[2]
PG_PORT, REDIS_PORT, WEB_PORT, SMTP_PORT = 5432, 6379, 8000, 2525
DATABASE = "reformflow"


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian's layout)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    return versions[-1].parent


def wait_until(check, *, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def port_open(address: str, port: int) -> bool:
    try:
        socket.create_connection((address, port), timeout=0.5).close()
    except OSError:
        return False
    return True


class Cluster:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir()
        self.media = workdir / "media"
        self.media.mkdir()
        self.mail_file = workdir / "mail.jsonl"
        self.mail_file.touch()
        self.pg = postgres_bin()
        self.hosts = {
            name: Host(name, f"{SUBNET}.{number}")
            for name, number in [
                ("db", 10),
                ("replica", 11),
                ("web1", 21),
                ("web2", 22),
                ("worker1", 31),
                ("worker2", 32),
                ("beat", 40),
                ("smtp", 50),
            ]
        }
        self.password = secrets.token_urlsafe(12)
        db, replica = self.hosts["db"].address, self.hosts["replica"].address
        self.database_url = f"postgres://postgres@{db}:{PG_PORT}/{DATABASE}"
        self.replica_url = f"postgres://postgres@{replica}:{PG_PORT}/{DATABASE}"
        self.redis_url = f"redis://{db}:{REDIS_PORT}/0"
        webs = [self.hosts["web1"].address, self.hosts["web2"].address]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(workdir),
            "PYTHONDONTWRITEBYTECODE": "1",
            "DJANGO_SETTINGS_MODULE": "project.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": ",".join([*webs, BRIDGE_ADDRESS]),
            "SITE_URL": f"http://{webs[0]}:{WEB_PORT}",
            "SECURE_SSL_REDIRECT": "False",
            "DATABASE_URL": self.database_url,
            "DATABASE_REPLICA_URL": self.replica_url,
            "REDIS_URL": self.redis_url,
            "EMAIL_URL": f"smtp://{self.hosts['smtp'].address}:{SMTP_PORT}",
            "MEDIA_ROOT": str(self.media),
            "STATIC_ROOT": str(workdir / "static"),
            "DEMO_PASSWORD": self.password,
            "LOG_LEVEL": "INFO",
            # Mail at any hour of the real clock; the test's own short intervals.
            "NOTIFICATION_QUIET_HOURS": "",
            "SWEEP_INTERVAL_SECONDS": "2",
            "BEAT_LEASE_SECONDS": "6",
            # A killed worker's unacknowledged task comes back after this long; a render still
            # "rendering" after this long is queued again by the sweep (renders take seconds).
            "CELERY_VISIBILITY_TIMEOUT": "30",
            "REPORT_RENDER_STALE_SECONDS": "30",
            "REPLICA_MAX_LAG_SECONDS": "3",
            "REPLICA_CHECK_SECONDS": "1",
            "REPLICA_DOWN_SECONDS": "15",
            "READ_YOUR_WRITES_SECONDS": "10",
        }

    # ------------------------------------------------------------------ plumbing

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def python(self) -> str:
        return sys.executable

    def manage(self, *args: str, timeout: float = 300, check: bool = True, settings: str = ""):
        """manage.py on the machine itself (it reaches the hosts through the bridge)."""
        env = {**self.env, "DJANGO_SETTINGS_MODULE": settings} if settings else self.env
        return subprocess.run(
            [self.python(), "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def network(self) -> None:
        bridge_create()
        for host in self.hosts.values():
            host.create()

    # ------------------------------------------------------------------ db host

    def _postgres_dir(self, name: str) -> tuple[Path, Path]:
        data, run = self.dir / f"pg-{name}", self.dir / f"pg-{name}-run"
        for folder in (data, run):
            folder.mkdir(mode=0o700)
            shutil.chown(folder, "postgres", "postgres")
        return data, run

    def _start_postgres(self, host: Host, data: Path, run: Path) -> None:
        host.start(
            "postgres",
            [
                str(self.pg / "postgres"),
                "-D",
                str(data),
                "-c",
                f"listen_addresses={host.address}",
                "-c",
                f"port={PG_PORT}",
                "-c",
                f"unix_socket_directories={run}",
                "-c",
                "max_connections=200",
                "-c",
                "wal_level=replica",
                "-c",
                "max_wal_senders=4",
                "-c",
                "hot_standby=on",
                # Test speed, not durability: no host of this cluster loses its disk.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
            ],
            log=self.log(f"{host.name}-postgres"),
            env={"PATH": self.env["PATH"], "LANG": "C.UTF-8"},
            user="postgres",
        )
        wait_until(lambda: port_open(host.address, PG_PORT), timeout=60, what="PostgreSQL")

    def start_primary(self) -> None:
        host = self.hosts["db"]
        data, run = self._postgres_dir("primary")
        self.dir.chmod(0o755)
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.pg / "initdb"), "-D", str(data)]
            + ["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all all {SUBNET}.0/24 trust\n"
            f"host replication all {SUBNET}.0/24 trust\n"
        )
        self._start_postgres(host, data, run)
        import psycopg

        with psycopg.connect(
            f"postgres://postgres@{host.address}:{PG_PORT}/postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")

    def start_replica(self) -> None:
        """A streaming replica from a base backup of the primary."""
        host = self.hosts["replica"]
        data, run = self._postgres_dir("replica")
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.pg / "pg_basebackup")]
            + ["-h", self.hosts["db"].address, "-p", str(PG_PORT), "-U", "postgres"]
            + ["-D", str(data), "-X", "stream", "-R", "-c", "fast", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._start_postgres(host, data, run)

    def start_redis(self) -> None:
        host = self.hosts["db"]
        host.start(
            "redis",
            ["redis-server", "--bind", host.address, "--port", str(REDIS_PORT)]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
            # Reachable from the other test hosts (only they are on this subnet).
            + ["--protected-mode", "no"],
            log=self.log("db-redis"),
            env={"PATH": self.env["PATH"]},
        )
        wait_until(lambda: port_open(host.address, REDIS_PORT), timeout=30, what="Redis")

    def restart_redis(self) -> float:
        """Stop Redis and start it again (empty: it keeps nothing on disk); returns the seconds
        it was down."""
        started = time.monotonic()
        self.hosts["db"].stop("redis")
        self.start_redis()
        return time.monotonic() - started

    # ------------------------------------------------------------------ application hosts

    def start_web(self, name: str) -> None:
        host = self.hosts[name]
        host.start(
            "gunicorn",
            [self.python(), "-m", "gunicorn", "project.wsgi", "-w", "2"]
            + ["-b", f"{host.address}:{WEB_PORT}", "--timeout", "20", "--graceful-timeout", "5"]
            + ["--access-logfile", str(self.log(f"{name}-access"))],
            log=self.log(f"{name}-gunicorn"),
            env=self.env,
            cwd=ROOT,
        )

    def start_workers(self, name: str) -> None:
        """A worker host: one worker for sweeps and mail, one for renders (docs/operations.md)."""
        host = self.hosts[name]
        for label, queues in (("sweep-notify", "sweep,notify"), ("reports", "reports")):
            host.start(
                label,
                [self.python(), "-m", "celery", "-A", "project", "worker", "-Q", queues]
                + ["-c", "1", "-n", f"{label}@{name}", "-l", "info"]
                + ["--without-gossip", "--without-mingle"],
                log=self.log(f"{name}-{label}"),
                env=self.env,
                cwd=ROOT,
            )

    def start_beat(self, name: str) -> None:
        host = self.hosts[name]
        host.start(
            f"beat-{name}",
            [self.python(), "-m", "celery", "-A", "project", "beat", "-l", "info"]
            + ["-s", str(self.dir / f"beat-{name}-schedule")],
            log=self.log(f"{name}-beat"),
            env=self.env,
            cwd=ROOT,
        )

    def start_smtp(self) -> None:
        host = self.hosts["smtp"]
        host.start(
            "smtp",
            [self.python(), str(ROOT / "tests/cluster/smtp_sink.py"), host.address]
            + [str(SMTP_PORT), str(self.mail_file)],
            log=self.log("smtp"),
            env=self.env,
            cwd=ROOT,
        )
        wait_until(lambda: port_open(host.address, SMTP_PORT), timeout=30, what="SMTP sink")

    def web_ready(self, name: str) -> bool:
        return port_open(self.hosts[name].address, WEB_PORT)

    def worker_ready(self, name: str) -> bool:
        return all(
            " ready." in self.log(f"{name}-{label}").read_text(errors="replace")
            for label in ("sweep-notify", "reports")
        )
