"""Celery entry points for reports: ids in, load, call a service (filled in by later issues)."""
