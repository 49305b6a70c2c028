"""Local development: the embedded default (SQLite, filesystem broker, outbox folder)."""

from pathlib import Path

from project.settings.base import *  # noqa: F403
from project.settings.base import SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=True)
# A fixed development key is acceptable only here; production refuses to start without one.
SECRET_KEY = SECRET_KEY or "reformflow-local-development-only-key-not-for-production"  # noqa: S105

Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405
