"""Shared fixtures for the whole suite."""

# The browser fixtures live here, once for the whole suite: a second registration (one per
# package) would start a second Playwright in the same session, which Playwright refuses.
from tests.browser_support import app_server_factory, artifacts, browser  # noqa: F401
