"""The scoring benchmark's table: ratios per clip against the naive loop, and the CPU steal column
that says which rows were measured on a starved virtual machine (the numbers are fixed, not timed)."""

from __future__ import annotations

from voxguard.bench.score import cpu_times, format_table, steal_share


def _row(name: str, files: int, wall_s: float, steal: float | None) -> dict:
    return {"name": name, "files": files, "audio_hours": files * 7.5 / 3600, "wall_s": wall_s,
            "x_real_time": files * 7.5 / wall_s, "clips_per_s": files / wall_s, "peak_rss_mib": 1000.0,
            "peak_pss_mib": 900.0, "load_1m": [1.0, 1.2], "steal_pct": steal}


def test_steal_share_is_the_stolen_part_of_the_elapsed_ticks() -> None:
    assert steal_share((100, 1000), (400, 2000)) == 30.0
    assert steal_share(None, (1, 2)) is None and steal_share((5, 10), (5, 10)) is None
    now = cpu_times()  # Linux: (steal, total) ticks, steal never above the total
    assert now is not None and 0 <= now[0] <= now[1]


def test_table_gives_ratios_per_clip_and_the_steal_of_each_row() -> None:
    result = {
        "rows": [_row("decode only (1 process)", 400, 5.0, 2.0),
                 _row("naive loop (Detector.score per file, engine bf16)", 400, 15.0, 3.4),
                 _row("pipeline (voxguard score)", 400, 10.0, None)],
        "scales": [_row("voxguard score (own process), 1000 clips", 1000, 20.0, 48.6)],
        "ray_start_s": 5.0, "rounds": 1, "cpus": 2, "model_version": "m",
    }
    lines = format_table(result).splitlines()
    assert lines[0].endswith("| load 1m | CPU steal % |")
    pipeline = next(line for line in lines if line.startswith("| pipeline"))
    assert "| 1.50x | 2.00x |" in pipeline and pipeline.endswith("| - |")
    scale = next(line for line in lines if line.startswith("| voxguard score"))
    assert "| 1.88x |" in scale and scale.endswith("| 49 |")  # 15 s / 400 against 20 s / 1000
