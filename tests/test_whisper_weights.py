"""Whisper weights: a package names the weights it needs; where they are is this machine's setting.

Issue 15: a package could point the Whisper weights path at any file (a FIFO hung the
loader; a huge file would be read whole). Now the path inside a package file is
ignored, VOXGUARD_WHISPER_MODEL_BIN locates the weights, and missing, unusable or
mismatched weights are one line (exit 2).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from siamese.calibration import Calibration, OperatingPoint
from siamese.config import ModelConfig
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage
from siamese.whisper import default_model_bin
from voxguard.cli import main

CONFIG = ModelConfig().with_frontend("whisper").replace(audio={"window_s": 1.0, "hop_s": 0.5},
                                                        encoder={"channels": (16, 16)})


def _write_package(path: Path, **frontend: object) -> Path:
    """A (random-weight) Whisper-front-end package; `frontend` fields are forced into the file's metadata."""
    torch.manual_seed(0)
    network = SiameseNetwork(CONFIG)
    ModelPackage(CONFIG, network.state_dict(), Calibration.identity(), OperatingPoint(0.0, -0.5, 0.5, "test")).save(path)
    if frontend:  # as a hostile or foreign tool would write it
        payload = torch.load(path, weights_only=True)
        meta = json.loads(payload["meta_json"])
        meta["config"]["frontend"].update(frontend)
        payload["meta_json"] = json.dumps(meta)
        torch.save(payload, path)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "a.wav"
    soundfile.write(path, (np.random.default_rng(0).normal(size=24000) * 0.1).astype(np.float32), 16000)
    return path


def _score(args: list[str], timeout_s: float = 120.0) -> int:
    """Run the CLI in a thread, so a hang fails the test instead of stalling the suite."""
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(args)), daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), "the command hung"
    return result[0]


def test_a_weights_path_inside_a_package_is_ignored(tmp_path, clip, capsys):
    fifo = tmp_path / "weights.bin"
    os.mkfifo(fifo)
    package = _write_package(tmp_path / "hostile.vxpkg", whisper_model_bin=str(fifo))
    loaded = ModelPackage.load(package)
    assert loaded.config.frontend.whisper_model_bin is None and loaded.config.frontend.whisper_weights == "tiny.en"
    assert _score(["score-file", str(clip), "--model", str(package)]) == 0  # the installed tiny.en, not the FIFO
    # And a package never records this machine's location.
    loaded.use_weights_at(default_model_bin()).save(tmp_path / "again.vxpkg")
    again = json.loads(torch.load(tmp_path / "again.vxpkg", weights_only=True)["meta_json"])
    assert "whisper_model_bin" not in again["config"]["frontend"]
    capsys.readouterr()


def test_the_operator_setting_locates_the_weights(tmp_path, clip, monkeypatch, capsys):
    package = _write_package(tmp_path / "p.vxpkg")
    assert _score(["score-file", str(clip), "--model", str(package), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    monkeypatch.setenv("VOXGUARD_WHISPER_MODEL_BIN", str(default_model_bin()))
    assert _score(["score-file", str(clip), "--model", str(package), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == default["score"]


@pytest.mark.parametrize("kind", ["missing", "fifo", "folder"])
def test_unusable_weights_are_one_line(kind, tmp_path, clip, monkeypatch, capsys):
    target = tmp_path / "model.bin"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    monkeypatch.setenv("VOXGUARD_WHISPER_MODEL_BIN", str(target))
    package = _write_package(tmp_path / "p.vxpkg")
    assert _score(["score-file", str(clip), "--model", str(package)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("voxguard: error: Whisper weights") and str(target) in err and len(err.splitlines()) == 1
    assert ("not found" in err) if kind == "missing" else ("not a regular file" in err)


def test_weights_other_than_the_package_names_are_refused(tmp_path, clip, monkeypatch, capsys):
    package = _write_package(tmp_path / "base.vxpkg", whisper_weights="base.en")
    assert _score(["score-file", str(clip), "--model", str(package)]) == 2
    assert "needs Whisper weights 'base.en': set VOXGUARD_WHISPER_MODEL_BIN" in capsys.readouterr().err
    monkeypatch.setenv("VOXGUARD_WHISPER_MODEL_BIN", str(default_model_bin()))  # tiny.en's file
    assert _score(["score-file", str(clip), "--model", str(package)]) == 2
    err = capsys.readouterr().err
    assert "width 384, not the 'base.en' (512)" in err and len(err.strip().splitlines()) == 1
