"""End to end in a real headless Chromium: `voxguard dashboard`, sign in, review a clip.

Screenshots go to test-artifacts/dashboard/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from dashboard.seed import seed
from dashboard_support import query

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "dashboard"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium at /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dashboard exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("dashboard did not become healthy")


@contextmanager
def _running_dashboard(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`voxguard dashboard` on a free port over the database at `url`; yields its base URL."""
    port = _free_port()
    log = open(tmp_path / "dashboard.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "voxguard", "dashboard", "--port", str(port), "--db-url", url],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**{k: v for k, v in os.environ.items() if k != "VOXGUARD_DB_URL"},
                                 "VOXGUARD_SOURCE_ROOTS": str(tmp_path / "audio")})
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # voxguard forwards it to Streamlit; the group catches both
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def dashboard(tmp_path):
    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    seed(url, 30, audio_dir=tmp_path / "audio", n_audio=30)
    with _running_dashboard(url, tmp_path) as base:
        yield base, url


def test_sign_in_review_a_clip_and_see_the_queue_advance(dashboard):
    from playwright.sync_api import expect, sync_playwright

    base, url = dashboard
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(base)
            page.get_by_role("textbox", name="Username").fill("alice")
            page.get_by_role("textbox", name="Password").fill("alice-password")
            page.screenshot(path=ARTIFACTS / "01-sign-in.png")
            page.get_by_role("button", name="Sign in").click()

            expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=30_000)
            heading = page.locator("h3").first
            expect(heading).to_contain_text(".wav", timeout=30_000)
            expect(page.locator("audio")).to_have_count(1, timeout=30_000)
            page.wait_for_timeout(1500)  # let the chart finish drawing for the screenshot
            first_clip = heading.inner_text().strip()
            page.screenshot(path=ARTIFACTS / "02-queue.png", full_page=True)

            page.get_by_label("Note (optional)").fill("buzzy vocoder noise in the second half")
            page.get_by_role("button", name="Spoof").click()
            expect(page.get_by_text("Recorded spoof for")).to_be_visible(timeout=30_000)
            expect(heading).not_to_have_text(first_clip, timeout=30_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=ARTIFACTS / "03-after-verdict.png", full_page=True)

            # The other pages render in a real browser too (charts included): screenshots for a human.
            for n, (link, marker) in enumerate((("Models", "Metrics — dev"), ("Jobs", "Results"),
                                                ("Retraining", "Run history"), ("Reviewers", "Per clip")), 4):
                page.get_by_role("link", name=link).click()
                expect(page.get_by_text(marker).first).to_be_visible(timeout=30_000)
                page.wait_for_timeout(1200)
                page.screenshot(path=ARTIFACTS / f"0{n}-{link.lower()}.png", full_page=True)
        finally:
            browser.close()

    rows = query(url, "select r.reviewer, r.verdict, r.note, c.uri from reviews r join clips c on c.id = r.clip_id "
                      "where r.note like 'buzzy%'")
    assert len(rows) == 1
    reviewer, verdict, note, uri = rows[0]
    assert (reviewer, verdict, note) == ("alice", "spoof", "buzzy vocoder noise in the second half")
    assert uri.endswith(first_clip)


HOSTILE_NAME = "![p](http:&#47;&#47;127.0.0.1:{port}&#47;x.png) :red-background[APPROVED by admin].wav"


def test_a_hostile_clip_name_fetches_nothing_and_shows_no_badge(tmp_path):
    """The markdown in a file name stays text in the browser: no outside request, no fake badge."""
    from playwright.sync_api import expect, sync_playwright

    from feedback.db import session_factory, upgrade
    from feedback.reviewers import add_reviewer
    from feedback_helpers import row, scored_items
    from feedback.db import session_scope

    trap = _free_port()  # nothing listens here; the browser must not even try
    name = HOSTILE_NAME.format(port=trap)
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    upgrade(url)
    factory = session_factory(url)
    with session_scope(factory) as session:
        add_reviewer(session, "alice", "alice-password", rounds=4)
    scored_items(factory, [row(f"/archive/{name}", confidence=0.5), row("/archive/plain.wav", confidence=0.9)])
    factory.kw["bind"].dispose()
    requests: list[str] = []
    with _running_dashboard(url, tmp_path) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.goto(base)
            page.get_by_role("textbox", name="Username").fill("alice")
            page.get_by_role("textbox", name="Password").fill("alice-password")
            page.get_by_role("button", name="Sign in").click()
            heading = page.locator("h3").first
            expect(heading).to_have_text(name, timeout=30_000)  # literally, brackets and all
            expect(page.get_by_text("Audio unavailable")).to_be_visible(timeout=30_000)  # outside the roots
            assert page.locator(f"img[src*='{trap}']").count() == 0
            assert heading.locator("span[style*='background']").count() == 0  # no coloured badge
        finally:
            browser.close()
    assert not [r for r in requests if f":{trap}" in r]
