"""Celery entry points for reports (the reports issue adds them)."""
