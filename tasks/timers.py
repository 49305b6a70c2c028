"""Celery entry points for timers: ids in, load, call a service (filled in by later issues)."""
