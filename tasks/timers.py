"""Celery entry points for timers (the deadlines issue adds them)."""
