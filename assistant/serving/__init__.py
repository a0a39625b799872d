"""Serving with several processes: `lernbegleiter serve --workers N` (see docs/deploy.md)."""
