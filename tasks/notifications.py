"""Celery entry points for notifications: ids in, load, call a service (filled in by later issues)."""
