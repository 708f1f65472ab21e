"""`voxguard score-file`: one row per clip, error rows, JSON lines, segments, missing model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from fixtures_model import RATE, synthetic_clip

from voxguard.cli import main

pytest_plugins = ["fixtures_model"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    real, fake = folder / "real.wav", folder / "fake.flac"
    sf.write(real, synthetic_clip(1, rng, seconds=3.0), RATE)
    sf.write(fake, synthetic_clip(0, rng, seconds=2.2), RATE)
    text = folder / "notes.wav"
    text.write_text("hello\n")
    return real, fake, text


def test_table_has_one_row_per_clip_and_error_rows(clips, tiny_package_path, capsys):
    real, fake, text = clips
    code = main(["score-file", str(real), str(fake), str(text), "--model", str(tiny_package_path)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1  # one clip could not be scored
    assert out[0].startswith("model ")
    header, rows = out[1].split(), out[2:]
    assert header[:3] == ["file", "label", "p_bonafide"] and "most_suspicious" in header
    assert len(rows) == 3
    assert rows[0].split()[:2] == [str(real), "bonafide"]
    assert rows[1].split()[:2] == [str(fake), "spoof"]
    assert rows[2].split()[:3] == [str(text), "ERROR", "not_audio:"]
    # real.wav: 3 s with 1 s windows and 0.5 s hop = 5 segments; duration column 3.00.
    assert rows[0].split()[5:7] == ["3.00", "5"]


def test_json_lines(clips, tiny_package_path, capsys):
    real, fake, text = clips
    assert main(["score-file", str(real), str(fake), "--model", str(tiny_package_path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["source"] for r in records] == [str(real), str(fake)]
    assert records[0]["label"] == "bonafide" and records[1]["label"] == "spoof"
    fake_record = records[1]
    assert fake_record["n_segments"] == 4 and "segments" not in fake_record
    worst = fake_record["most_suspicious"]
    assert 0.0 <= worst["start_s"] < worst["end_s"] <= 2.2 + 1e-6
    assert 0.0 <= fake_record["prob_bonafide"] <= 1.0


def test_segments_flag(clips, tiny_package_path, capsys):
    real, _, text = clips
    main(["score-file", str(real), str(text), "--model", str(tiny_package_path), "--segments"])
    out = capsys.readouterr().out
    segment_lines = [line for line in out.splitlines() if line.startswith("  ") and " score " in line]
    assert len(segment_lines) == 5  # every segment of real.wav, one line each
    assert f"{text}: not_audio" in out
    main(["score-file", str(real), "--model", str(tiny_package_path), "--segments", "--json"])
    record = json.loads(capsys.readouterr().out)
    assert len(record["segments"]) == 5 and record["segments"][-1]["end_s"] == pytest.approx(3.0)


def test_missing_default_model_is_a_clear_message(clips, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VOXGUARD_MODEL", str(tmp_path / "nowhere.vxpkg"))
    assert main(["score-file", str(clips[0])]) == 2
    out = capsys.readouterr().err
    assert len(out.splitlines()) == 1
    assert "no model package" in out and "nowhere.vxpkg" in out and "--model" in out


def test_a_non_package_model_is_a_clear_message(clips, capsys):
    assert main(["score-file", str(clips[0]), "--model", str(clips[2])]) == 2
    assert "not a voxguard model package" in capsys.readouterr().err


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "score-file" in out and "export" in out
