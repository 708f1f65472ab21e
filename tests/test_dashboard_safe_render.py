"""Clip names, paths and other user text reach the dashboard as literal text, never markdown (issue 15)."""

from __future__ import annotations

import pytest

from dashboard.safe import md
from dashboard_support import app_as
from feedback.db import session_factory, upgrade
from feedback_helpers import row, scored_items

HOSTILE = "/archive/![p](http:&#47;&#47;127.0.0.1:9&#47;x.png) :red-background[APPROVED by admin] $x$ `c`.wav"
NAME = HOSTILE.rsplit("/", 1)[-1]
MARKUP = ("![", "](", ":red-background[", "&#47;", "$x$", "`c`")


def _inert(markdown: str, original: str) -> None:
    """Every piece of markup is escaped, and removing the escapes gives the text back unchanged."""
    for token in MARKUP:
        assert token not in markdown, f"{token!r} reaches markdown unescaped in {markdown!r}"
    assert markdown.replace("\\", "") == original.replace("\\", "")


def test_md_escapes_markup_and_keeps_plain_names_readable():
    _inert(md(NAME), NAME)
    assert md("job-2026_11.wav") == "job-2026\\_11.wav"
    assert md("- not a list\n# not a heading") == "\\- not a list \\# not a heading"
    assert md("1. not a list") == "1\\. not a list"


@pytest.fixture
def hostile_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    upgrade(url)
    factory = session_factory(url)
    # The hostile clip first (least confident); a second one keeps the queue open after the verdict.
    scored_items(factory, [row(HOSTILE, confidence=0.5), row("/archive/plain.wav", confidence=0.9)], job="job-h")
    factory.kw["bind"].dispose()
    monkeypatch.setenv("VOXGUARD_DB_URL", url)
    monkeypatch.setenv("VOXGUARD_SOURCE_ROOTS", str(tmp_path))  # the clip is outside: audio refused, name shown
    return url


def test_a_hostile_clip_name_is_shown_as_text_on_the_review_page(hostile_db):
    at = app_as("alice")
    assert not at.exception
    (heading,) = [h.value for h in at.subheader]
    _inert(heading, NAME)
    path_caption = next(c.value for c in at.caption if "item" in c.value)
    _inert(path_caption.split(" · ")[0], HOSTILE)
    (warning,) = [w.value for w in at.warning]  # outside the source roots: not played
    assert "AccessDenied" in warning
    _inert(warning.split(": ", 2)[2].split(" is outside")[0].removeprefix("audio "), HOSTILE)
    at.text_area(key=next(t.key for t in at.text_area)).input("**bold** ![i](http://127.0.0.1:9/i.png)")
    at.button(key="verdict_spoof").click().run()
    assert not at.exception
    _inert(at.success[0].value.split(" for ", 1)[1].split(" — final")[0], NAME)
