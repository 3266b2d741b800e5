"""Debian's Chromium on a phone-sized screen, and the app behind a real HTTP server."""
from __future__ import annotations

import contextlib
import threading
import time

from waitress import create_server

from tests.helpers.tools import require_tool

PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A synthetic microphone (a beeping tone) for the in-browser recorder.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@contextlib.contextmanager
def serve(app):
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Closed from inside its own loop: a socket closed from here while the loop waits on
        # it makes the loop thread fail ("Bad file descriptor").
        try:
            server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        except OSError:
            # The loop already closed its trigger (seen now and then at the end of a test whose
            # requests were all answered): it has stopped or is stopping; close what is left here.
            for channel in list(server._map.values()):
                channel.close()
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()  # its worker threads outlive the loop otherwise


@contextlib.contextmanager
def serve_with_jobs(app):
    """The app behind a real HTTP server with its in-process job runner, as `xiangyin run`
    starts it: pages that queue work see it done."""
    from app import job_runner

    runner = job_runner(app)
    runner.start()
    app.extensions["xiangyin.runner"] = runner
    try:
        with serve(app) as url:
            yield url
    finally:
        runner.stop()


@contextlib.contextmanager
def phone_page(**context_options):
    executable = require_tool("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN", **context_options)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression from the test side. Playwright's wait_for_function
    evaluates a string inside the page, which the site's CSP (no eval) rightly forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} s: {expression}")
        page.wait_for_timeout(100)


def wait_for(predicate, timeout: float = 20.0):
    """Poll a predicate on the test's side (a database row, a server state) until it is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out")
