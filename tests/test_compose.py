"""compose.yaml stays true to the code (docker compose config cannot run everywhere): valid
YAML, Makefile targets as commands, a worker for every queue, exactly one beat."""

import re
from pathlib import Path

import yaml

from project.celery import QUEUES

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


def test_every_app_service_runs_a_makefile_target_and_depends_on_real_services():
    services = _compose()["services"]
    targets = _make_targets()
    for name, service in services.items():
        command = service.get("command")
        if service.get("image") == "reformflow:local":
            assert command[0] == "make", name
            assert all(arg in targets for arg in command[1:] if "=" not in arg), name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)


def test_a_worker_per_queue_covers_every_queue_and_one_beat_runs():
    services = _compose()["services"]
    consumed = []
    for service in services.values():
        command = service.get("command") or []
        if command[:2] == ["make", "worker"]:
            queues = [arg.split("=", 1)[1] for arg in command if arg.startswith("WORKER_QUEUES=")]
            assert queues, "a compose worker names its queues"
            consumed += queues[0].split(",")
    assert sorted(consumed) == sorted(QUEUES)
    beats = [s for s in services.values() if (s.get("command") or [])[:2] == ["make", "beat"]]
    assert len(beats) == 1
