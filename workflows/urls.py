"""Kept for the API include while it is wired from project.urls; pages live in workflows.site."""

urlpatterns: list = []
