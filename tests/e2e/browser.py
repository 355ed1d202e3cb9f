"""Driving Debian's chromium with Playwright: the launch flags, logging in as a demo user, screenshots.

``LIANDONG_SCREENSHOTS=docs`` saves the screenshots shown in the README (``shot``)."""

import os
from pathlib import Path

from tests.e2e.walkthrough import PASSWORD

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
SHOTS = os.environ.get("LIANDONG_SCREENSHOTS")
PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}


def login(browser, base: str, username: str, viewport: dict, **context_options):
    """A new browser context logged in as ``username``; ``page.js_errors`` collects uncaught page errors."""
    context = browser.new_context(viewport=viewport, locale=context_options.pop("locale", "en-US"), **context_options)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.js_errors = errors
    return page


def shot(page, name: str):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)
