"""Benchmark: review-queue page load with a large queue (default 100,000 clips), not a timed test.

    python -m voxguard.bench.review_queue [--clips 100000] [--db-url URL] [--keep]

Seeds a throwaway SQLite database (or --db-url, which must be empty; or times an
already seeded one with --seeded URL) with `voxguard.bench.review_seed`, then reports median
wall times of the queries the queue page runs and of whole queue-page renders
through Streamlit's AppTest.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from voxguard.bench.review_seed import seed
from feedback.db import session_factory
from feedback.queue import QueueFilter, list_queue, queue_counts, queue_facets


def _median_ms(fn: Callable[[], object], repeat: int = 7) -> float:
    fn()  # warm caches (SQLite pages, SQLAlchemy statement cache)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(url: str, n_clips: int, audio_dir: Path, seed_first: bool = True) -> dict[str, float]:
    """Seed `url` with `n_clips` clips (unless `seed_first` is False) and time the queue page's work (ms)."""
    results: dict[str, float] = {}
    if seed_first:
        start = time.perf_counter()
        seed(url, n_clips, audio_dir=audio_dir, n_audio=20, with_reviews=True)
        results["seed (s)"] = time.perf_counter() - start
    factory = session_factory(url)
    any_filter, by_source, by_job = QueueFilter(), QueueFilter(source="podcasts"), QueueFilter(job_id="job-0002")
    with factory() as s:
        first = list_queue(s, any_filter, "priority", page_size=25)
        results["queue items (open)"] = float(first.total or 0)
        results["rows of page 1 (ms)"] = _median_ms(lambda: list_queue(s, any_filter, page_size=25, with_total=False))
        cursor = first.next_cursor
        for _ in range(399):  # walk to a deep page the way the dashboard does, by cursor
            cursor = list_queue(s, any_filter, page_size=25, cursor=cursor, with_total=False).next_cursor
        results["rows of page 400 by cursor (ms)"] = _median_ms(
            lambda: list_queue(s, any_filter, page_size=25, cursor=cursor, with_total=False))
        results["rows of page 400 by OFFSET (ms)"] = _median_ms(
            lambda: list_queue(s, any_filter, page=400, page_size=25, with_total=False))
        results["rows, source filter (ms)"] = _median_ms(lambda: list_queue(s, by_source, with_total=False))
        results["rows, job filter (ms)"] = _median_ms(lambda: list_queue(s, by_job, with_total=False))
        results["exact count, no filter (ms)"] = _median_ms(lambda: list_queue(s, any_filter, page_size=1))
        results["exact count, source filter (ms)"] = _median_ms(lambda: list_queue(s, by_source, page_size=1), 3)
        results["exact count, job filter (ms)"] = _median_ms(lambda: list_queue(s, by_job, page_size=1), 3)
        results["queue_counts (progress) (ms)"] = _median_ms(lambda: queue_counts(s))
        results["queue_facets (filter menus) (ms)"] = _median_ms(lambda: queue_facets(s), repeat=3)
    factory.kw["bind"].dispose()
    results.update(_apptest_ms(url))
    return results


def _apptest_ms(url: str) -> dict[str, float]:
    """Signed-in renders of the whole queue page, median of warm reruns (as in a live session)."""
    from streamlit.testing.v1 import AppTest

    os.environ["VOXGUARD_DB_URL"] = url
    app = Path(__file__).resolve().parent / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120)
    at.session_state["user"] = {"username": "bench", "role": "reviewer", "via": "local"}
    out = {}
    start = time.perf_counter()
    at.run()
    out["AppTest queue page, first render (ms)"] = (time.perf_counter() - start) * 1000
    out["AppTest queue page, rerun (ms)"] = _median_ms(at.run, repeat=5)
    at.selectbox(key="q_source").select("podcasts")
    start = time.perf_counter()
    at.run()
    out["AppTest source filter applied (ms)"] = (time.perf_counter() - start) * 1000
    out["AppTest source-filtered rerun (ms)"] = _median_ms(at.run, repeat=5)
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m voxguard.bench.review_queue", description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--db-url", default=None, help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--seeded", default=None, metavar="URL", help="time an already seeded database instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="voxguard-bench-") as tmp:
        url = args.seeded or args.db_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        results = run(url, args.clips, Path(tmp) / "audio", seed_first=not args.seeded)
    width = max(map(len, results))
    for name, value in results.items():
        print(f"{name:<{width}}  {value:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
