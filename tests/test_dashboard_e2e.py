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

from voxguard.bench.review_seed import seed
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
def _running_dashboard(url: str, tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    """`voxguard dashboard` on a free port over the database at `url` (extra `VOXGUARD_*` settings in
    `env`); yields its base URL."""
    port = _free_port()
    log = open(tmp_path / "dashboard.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "voxguard", "dashboard", "--port", str(port), "--db-url", url],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**{k: v for k, v in os.environ.items() if k != "VOXGUARD_DB_URL"},
                                 "VOXGUARD_SOURCE_ROOTS": str(tmp_path / "audio"),
                                 "VOXGUARD_DATA_DIR": str(tmp_path / "data"), **env})
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
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
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
                expect(page.get_by_text(marker).filter(visible=True).first).to_be_visible(timeout=30_000)
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


def _sign_in(page, base: str, name: str) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    page.goto(base)
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill(f"{name}-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible(timeout=30_000)


def _wait_idle(page, timeout_ms: int = 30_000) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished its rerun: the "Running..." status widget is gone. A widget clicked
    mid-rerun can be replaced under the pointer, which is how a dropdown opened and closed unseen in CI."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def _pick_option(page, label, index: int, attempts: int = 6) -> None:  # type: ignore[no-untyped-def]
    """Open the selectbox labelled `label` and click its option number `index`, retrying when a rerun closed
    the dropdown before the options showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        _wait_idle(page)
        page.get_by_label(label).click()
        try:
            page.get_by_role("option").nth(index).click(timeout=5_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")


def _open_expander(page, title: str, inside, attempts: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Open the expander titled `title` until `inside` (a locator in it) shows, once Streamlit is idle: under
    load a click on the title during the page's first run was lost (CI: the bulk button never showed)."""
    from playwright.sync_api import expect

    for attempt in range(attempts):
        _wait_idle(page)
        if not inside.is_visible():
            page.get_by_text(title).click()
        try:
            expect(inside).to_be_visible(timeout=10_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def _until(check, what: str, timeout_s: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll `check()` until it returns something true (values inside the component's shadow root cannot be
    waited on with `page.wait_for_function`, which does not pierce it; Playwright's locators do)."""
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def test_clip_view_playhead_zoom_and_regions(dashboard):
    """The clip page's waveform/spectrogram view in a real browser: it renders, its playhead follows the
    playing audio, zoom (buttons and Ctrl + wheel) narrows the visible span, a click on the picture seeks,
    and a press on a model window plays that window from its start and stops at its end."""
    import re

    from playwright.sync_api import expect, sync_playwright

    base, _ = dashboard
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            _sign_in(page, base, "alice")
            expect(page.locator("h3").first).to_contain_text(".wav", timeout=30_000)
            view = page.locator(".vg")  # inside the component's (open) shadow root: CSS locators pierce it
            canvas = view.locator("canvas.vg-canvas")
            expect(canvas).to_be_visible(timeout=30_000)
            _wait_idle(page)
            audio = page.locator("audio").first

            def attr(name: str) -> float:
                return float(view.get_attribute(f"data-{name}") or "nan")

            def span() -> float:
                return attr("view-end") - attr("view-start")

            # Rendered: something drawn (the stage is not one flat colour), the model's windows as regions,
            # the suspicious ones marked (not blind), and the whole clip on screen.
            assert canvas.evaluate("""c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                                     const s = new Set(); for (let i = 0; i < d.length; i += 397) s.add(d[i]);
                                     return s.size; }""") > 10
            chips = view.locator(".vg-chip")
            assert chips.count() >= 3 and view.locator(".vg-suspicious").count() >= 1
            assert "P(bona fide)" in chips.first.get_attribute("title")
            duration = audio.evaluate("a => new Promise(r => a.readyState >= 1 ? r(a.duration)"
                                      " : a.addEventListener('loadedmetadata', () => r(a.duration)))")
            full = span()
            assert full == pytest.approx(duration, rel=0.02)

            # Zoom: the buttons halve the visible span each; Ctrl + wheel zooms about the pointer; Fit restores.
            view.locator(".vg-zoom-in").click()
            view.locator(".vg-zoom-in").click()
            assert span() == pytest.approx(full / 4, rel=0.02)
            view.locator(".vg-scroll").evaluate("e => { e.scrollLeft = e.scrollWidth; }")  # scroll to the end
            _until(lambda: attr("view-start") > full / 2, "the view to scroll")
            view.locator(".vg-zoom-out").click()
            assert span() == pytest.approx(full / 2, rel=0.02)
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40)
            page.keyboard.down("Control")
            page.mouse.wheel(0, -300)
            page.keyboard.up("Control")
            _until(lambda: span() < full / 2 * 0.8, "Ctrl + wheel to zoom in")
            page.screenshot(path=ARTIFACTS / "10-clip-view-zoomed.png", full_page=True)
            view.locator(".vg-fit").click()
            assert span() == pytest.approx(full, rel=0.02) and attr("view-start") == 0

            # The playhead moves while the audio plays (the view's play button drives the page's player).
            assert attr("playhead") == 0
            view.locator(".vg-play").click()
            page.wait_for_function("() => { const a = document.querySelector('audio');"
                                   " return a && !a.paused && a.currentTime > 0.3; }", timeout=30_000)
            x0 = _until(lambda: attr("playhead-x") > 0 and attr("playhead-x"), "the playhead to move")
            _until(lambda: attr("playhead-x") > x0 + 5, "the playhead to keep moving")
            page.keyboard.press("Alt+k")  # the page's play/pause key still works on the same player
            page.wait_for_function("() => document.querySelector('audio').paused", timeout=10_000)
            now = audio.evaluate("a => a.currentTime")
            _until(lambda: abs(attr("playhead") - now) < 0.05, "the playhead to show where the audio paused")

            # A click on the picture moves the playhead there (without playing).
            canvas.click(position={"x": box["width"] * 0.1, "y": 40})
            _until(lambda: abs(audio.evaluate("a => a.currentTime") - 0.1 * full) < 0.1, "the click to seek")
            assert audio.evaluate("a => a.paused")

            # Pressing a window plays it from its start (a jump forward from the playhead) and stops at its end.
            bounds = [(float(c.get_attribute("data-start")), float(c.get_attribute("data-end")))
                      for c in chips.all()]
            later = [i for i, (s, e) in enumerate(bounds) if s >= 0.1 * full + 1.0 and e <= full - 1.0]
            assert later, f"the seeded clip ({full:.2f} s) has no window well inside it: {bounds}"
            start, end = bounds[later[0]]
            # Where the player was sent, recorded by the element itself (a read after the click would
            # depend on how fast the machine is: under load playback had already run on by a second).
            audio.evaluate("a => { window.vgSeeks = []; a.addEventListener('seeking',"
                           " () => window.vgSeeks.push(a.currentTime)); }")
            chips.nth(later[0]).click()
            # The element fires `seeking` from a queued task, after `currentTime` and `paused` have already
            # changed: wait for the record too, or the read can come first (seen once: an empty list).
            page.wait_for_function("s => { const a = document.querySelector('audio');"
                                   " return !a.paused && a.currentTime >= s && window.vgSeeks.length > 0; }",
                                   arg=start, timeout=30_000)
            assert page.evaluate("window.vgSeeks") == [pytest.approx(start, abs=0.01)]  # one jump: to its start
            expect(chips.nth(later[0])).to_have_class(re.compile("vg-active"))
            page.screenshot(path=ARTIFACTS / "11-clip-view-region.png", full_page=True)
            page.wait_for_function("() => document.querySelector('audio').paused", timeout=30_000)
            # Stopped at the window's end, not at the clip's (the margin allows for a late frame under load).
            stopped = audio.evaluate("a => [a.currentTime, a.ended]")
            assert end - 0.05 <= stopped[0] < end + 0.9 and stopped[1] is False
            # Everything came from the dashboard itself: no CDN, no outside request (blob: is Streamlit's
            # way of loading the component's inline module).
            assert requests and not [u for u in requests if not u.startswith((base, "blob:", "data:"))]
        finally:
            browser.close()


def test_review_journey_blind_assigned_bulk_export(tmp_path):
    """Issue 14's journey in a real browser, at 1,600 px: sign in, reload keeps the session, open a clip by
    its name, play a region, vote blind with a key, the queue advances, two reviewers get different clips,
    a lead bulk-confirms a job's confident spoofs and exports the verdicts. A screenshot of every page."""
    import csv
    import re

    from playwright.sync_api import expect, sync_playwright

    url = f"sqlite:///{tmp_path / 'journey.db'}"
    info = seed(url, 30, audio_dir=tmp_path / "audio", n_audio=30)
    shots = ARTIFACTS / "journey"
    shots.mkdir(parents=True, exist_ok=True)
    with _running_dashboard(url, tmp_path, VOXGUARD_REVIEW_BLIND="1", VOXGUARD_REVIEW_ASSIGN="1") as base, \
            sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            size = {"width": 1600, "height": 1000}
            alice = browser.new_context(viewport=size, accept_downloads=True).new_page()
            _sign_in(alice, base, "alice")
            heading = alice.locator("h3").first
            expect(heading).to_contain_text(".wav", timeout=30_000)
            alice.screenshot(path=shots / "01-queue-blind.png", full_page=True)

            # F5 keeps the session, also on a deep link (it showed "Page not found" and the sign-in form).
            alice.reload()
            expect(alice.get_by_role("heading", name="Review queue")).to_be_visible(timeout=30_000)
            expect(alice.get_by_role("textbox", name="Password")).to_have_count(0)
            alice.goto(f"{base}/jobs")
            expect(alice.get_by_role("heading", name="Jobs", exact=True)).to_be_visible(timeout=30_000)
            alice.goto(base)
            expect(heading).to_contain_text(".wav", timeout=30_000)
            first = heading.inner_text().strip()

            # Open the second clip by clicking its name (a cell click, not the row's checkbox).
            grid = alice.locator("[data-testid='stDataFrame']").first
            expect(grid).to_be_visible(timeout=30_000)
            _wait_idle(alice)
            box = grid.bounding_box()
            alice.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + 35 + 35 + 17)  # the clip column, 2nd row
            expect(heading).not_to_have_text(first, timeout=30_000)
            opened = heading.inner_text().strip()
            expect(alice.get_by_text("Blind review: the model")).to_be_visible()
            expect(alice.get_by_text("Model says")).to_have_count(0)  # nothing of the model before voting

            # Play a region: press the second window in the clip view; the player starts at its start time.
            # Blind: the regions carry neither the model's colours nor its probabilities.
            view = alice.locator(".vg")
            chip = view.locator(".vg-chip").nth(1)
            expect(chip).to_be_visible(timeout=30_000)
            assert view.locator(".vg-chip").count() >= 2 and view.locator(".vg-suspicious").count() == 0
            assert view.locator(".vg-worst").count() == 0
            assert not [c for c in view.locator(".vg-chip").evaluate_all("cs => cs.map(c => c.title)")
                        if "P(bona fide)" in c or "suspicious" in c]
            start = float(chip.get_attribute("data-start"))
            assert start >= 2.0
            _wait_idle(alice)
            chip.click()
            audio = alice.locator("audio").first
            alice.wait_for_function("s => { const a = document.querySelector('audio');"
                                    " return a && !a.paused && a.currentTime >= s; }", arg=start, timeout=30_000)
            alice.keyboard.press("Alt+k")  # the play/pause key
            alice.wait_for_function("() => document.querySelector('audio').paused", timeout=10_000)
            assert audio.evaluate("a => a.currentTime") >= start
            alice.screenshot(path=shots / "02-clip-region.png", full_page=True)

            # Vote blind with a key: the queue advances to another clip.
            alice.keyboard.press("Alt+s")
            expect(alice.get_by_text("Recorded spoof for")).to_be_visible(timeout=30_000)
            expect(heading).not_to_have_text(opened, timeout=30_000)
            alice.screenshot(path=shots / "03-after-blind-vote.png", full_page=True)
            alice_now = heading.inner_text().strip()

            # A second reviewer under assignment gets a different clip.
            bob = browser.new_context(viewport=size).new_page()
            _sign_in(bob, base, "bob")
            bob_heading = bob.locator("h3").first
            expect(bob_heading).to_contain_text(".wav", timeout=30_000)
            assert bob_heading.inner_text().strip() not in (alice_now, opened)
            bob.screenshot(path=shots / "04-second-reviewer.png", full_page=True)

            # A lead bulk-confirms a job's confident spoofs (with a confirmation step).
            carol = browser.new_context(viewport=size, accept_downloads=True).new_page()
            _sign_in(carol, base, "carol")
            carol.get_by_role("link", name="Jobs").click()
            expect(carol.get_by_text("Results").filter(visible=True).first).to_be_visible(timeout=30_000)
            start = carol.get_by_role("button", name=re.compile(r"^Confirm [\d,]+ as spoof"))
            _open_expander(carol, "Confirm this job's confident spoofs in bulk", start)
            n_bulk = int(re.search(r"Confirm ([\d,]+)", start.inner_text()).group(1).replace(",", ""))
            _wait_idle(carol)
            start.click()
            expect(carol.get_by_text("Record a spoof verdict by you")).to_be_visible(timeout=30_000)
            carol.screenshot(path=shots / "05-jobs-bulk-confirm.png", full_page=True)
            _wait_idle(carol)
            carol.get_by_role("button", name="Confirm", exact=True).click()
            expect(carol.get_by_text(f"Confirmed {n_bulk:,} clip(s) as spoof")).to_be_visible(timeout=60_000)

            # Export the verdicts from the Reviewers page.
            carol.get_by_role("link", name="Reviewers").click()
            expect(carol.get_by_text("Krippendorff").filter(visible=True).first).to_be_visible(timeout=30_000)
            carol.screenshot(path=shots / "06-reviewers-agreement.png", full_page=True)
            carol.get_by_role("tab", name="Export").click()
            with carol.expect_download(timeout=60_000) as download:
                carol.get_by_role("button", name=re.compile("Download verdicts")).click()
            exported = tmp_path / "verdicts.csv"
            download.value.save_as(exported)
            carol.screenshot(path=shots / "07-reviewers-export.png", full_page=True)

            for n, (link, marker) in enumerate((("Models", "Metrics"), ("Retraining", "Run history")), 8):
                carol.get_by_role("link", name=link).click()
                expect(carol.get_by_text(marker).filter(visible=True).first).to_be_visible(timeout=30_000)
                carol.wait_for_timeout(1200)
                carol.screenshot(path=shots / f"0{n}-{link.lower()}.png", full_page=True)

            # Signing out ends the session for good: a reload shows the sign-in form again.
            alice.get_by_role("button", name="Sign out").click()
            expect(alice.get_by_role("textbox", name="Password")).to_be_visible(timeout=30_000)
            alice.reload()
            expect(alice.get_by_role("textbox", name="Password")).to_be_visible(timeout=30_000)
        finally:
            browser.close()

    with open(exported, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == query(url, "select count(*) from reviews")[0][0]
    assert {"reviewer", "verdict", "note", "reviewed_at", "model_version"} <= set(rows[0])
    assert sum(r["reviewer"] == "carol" and r["verdict"] == "spoof" for r in rows) == n_bulk > 0
    assert [(r["reviewer"], r["verdict"]) for r in rows if r["uri"].endswith(opened)] == [("alice", "spoof")]
    assert query(url, "select count(*) from audit_events where action in ('review.bulk_confirm', 'review.export')") \
        == [(2,)]
    assert info.job_ids
