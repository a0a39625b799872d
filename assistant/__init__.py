"""KI-Lernbegleiter core: settings, roles, index, retrieval, answering, service, API, CLI."""

__version__ = "0.1.0"
