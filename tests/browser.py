"""Shared Playwright helpers: launch Debian's Chromium (Playwright's own browser download does not
work here), a screenshot directory, and the skip/fail rule when Chromium is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("LB_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MISSING = "Chromium (Debian package chromium) not installed"


def require_chromium() -> None:
    """Skip when Chromium or Playwright is missing; on CI (env CI set) fail instead."""
    reason = None
    if not CHROMIUM.exists():
        reason = MISSING
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright (pip package playwright) not installed"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def launch(playwright, **kwargs):
    """A headless Chromium from the Debian package."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS, **kwargs)


def artifact(name: str) -> Path:
    """Path for a screenshot or other artifact under tests/artifacts/ (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
