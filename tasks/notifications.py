"""Celery entry points for notifications (the deadlines issue adds them)."""
