"""Debian's chromium, headless, driven through Playwright: for the tests that look at a page as
a person would (the HTML report, the web interface)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import need_tools

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def chromium_page(profile: Path) -> Iterator[Any]:
    """A page of the system's chromium, headless, with a fresh profile; closed after."""
    need_tools("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=shutil.which("chromium"), headless=True, args=CHROMIUM_ARGS)
        try:
            yield context.new_page()
        finally:
            context.close()


def follow(target: Any) -> None:
    """Click a link or a submit button (a Playwright locator) and wait until the page it opens has
    loaded. A click returns once the navigation has committed, when the new document may not be
    parsed yet: a count taken then can read 0 rows of a page that has 2."""
    target.click()
    target.page.wait_for_load_state("load")
