"""Model package: save/load round trip, atomic write, refusing files that are not packages."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from siamese.package import ModelPackage, data_fingerprint, make_version
from siamese.package_meta import read_meta_without_torch
from siamese.windowing import make_windows

# Shared session fixtures (tiny trained package), registered once for the whole run.
pytest_plugins = ["fixtures_model"]


def _windows(package: ModelPackage, clips) -> torch.Tensor:  # noqa: ANN001
    return torch.from_numpy(np.concatenate([make_windows(w, package.config.audio).frames for w in clips.waveforms[::4]]))


def test_round_trip_scores_and_metadata_are_equal(tiny_package, tiny_package_path, tiny_sets):
    loaded = ModelPackage.load(tiny_package_path)
    assert loaded.config == tiny_package.config
    assert loaded.version == tiny_package.version
    assert loaded.calibration == tiny_package.calibration
    assert loaded.operating_point == tiny_package.operating_point
    assert loaded.training["data_fingerprint"] == tiny_package.training["data_fingerprint"]
    assert json.loads(json.dumps(loaded.metrics)) == json.loads(json.dumps(tiny_package.metrics, default=float))
    windows = _windows(tiny_package, tiny_sets[2])
    with torch.no_grad():
        before = tiny_package.build_network().score(windows)
        after = loaded.build_network().score(windows)
    torch.testing.assert_close(after, before, atol=0, rtol=0)


def test_enrolled_references_survive_the_round_trip(tiny_package, tmp_path):
    package = ModelPackage(
        config=tiny_package.config,
        state_dict=tiny_package.state_dict,
        calibration=tiny_package.calibration,
        operating_point=tiny_package.operating_point,
        enrolled={"alice": np.random.default_rng(0).normal(size=(3, 128)).astype(np.float32)},
    )
    loaded = ModelPackage.load(package.save(tmp_path / "enrolled.vxpkg"))
    np.testing.assert_array_equal(loaded.enrolled["alice"], package.enrolled["alice"])


def test_save_leaves_no_temporary_files(tiny_package, tmp_path):
    target = tmp_path / "sub" / "model.vxpkg"
    tiny_package.save(target)
    tiny_package.save(target)  # overwrite in place
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.vxpkg"]


def test_crash_during_write_keeps_the_previous_package(tiny_package, tmp_path, monkeypatch):
    target = tiny_package.save(tmp_path / "model.vxpkg")
    original = target.read_bytes()

    def crashing_save(obj, path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        Path(path).write_bytes(b"half a package")  # a partial write, then the process "dies"
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(OSError):
        tiny_package.save(target)
    assert target.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir()] == ["model.vxpkg"]


@pytest.mark.parametrize(
    "content",
    [b"", b"just some text\n", b"RIFF\x00\x00\x00\x00WAVEfmt "],
    ids=["empty", "text", "wav"],
)
def test_refuses_files_that_are_not_packages(content, tmp_path):
    path = tmp_path / "not.vxpkg"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a voxguard model package"):
        ModelPackage.load(path)


def test_refuses_other_torch_files_and_future_formats(tmp_path):
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(ValueError):
        ModelPackage.load(other)
    future = tmp_path / "future.vxpkg"
    torch.save({"meta_json": json.dumps({"format": "voxguard-model", "format_version": 99}), "state_dict": {}}, future)
    with pytest.raises(ValueError, match="unsupported package format"):
        ModelPackage.load(future)


def test_metadata_reader_without_torch_matches_the_loader(tiny_package_path):
    """The scoring driver's reader (no torch) sees exactly what `ModelPackage.load` sees."""
    assert read_meta_without_torch(tiny_package_path) == ModelPackage.load(tiny_package_path).meta


@pytest.mark.parametrize("content", [b"", b"just some text\n"], ids=["empty", "text"])
def test_metadata_reader_refuses_what_the_loader_refuses(content, tmp_path):
    path = tmp_path / "not.vxpkg"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a voxguard model package"):
        read_meta_without_torch(path)
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a voxguard model package"):
        read_meta_without_torch(other)


class _RunsCode:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.target),))

    def __init__(self, target: Path) -> None:
        self.target = str(target)


def test_metadata_reader_runs_no_code_from_the_file(tmp_path):
    """A crafted archive whose pickle calls a function: refused, and the function never ran."""
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.vxpkg"
    with zipfile.ZipFile(crafted, "w") as archive:
        archive.writestr("crafted/data.pkl", pickle.dumps({"meta_json": "{}", "x": _RunsCode(marker)}))
    with pytest.raises(ValueError, match="not allowed in a model package"):
        read_meta_without_torch(crafted)
    assert not marker.exists()


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ValueError):
        ModelPackage.load(tmp_path / "nothing.vxpkg")


def test_version_tracks_the_weights():
    a = {"w": torch.zeros(3)}
    b = {"w": torch.ones(3)}
    assert make_version(a) == make_version({"w": torch.zeros(3)})
    assert make_version(a).split("-")[1] != make_version(b).split("-")[1]
    assert len(make_version(a).split("-")[0]) == 8  # YYYYMMDD


def test_data_fingerprint_ignores_order():
    assert data_fingerprint(["a", "b", "c"]) == data_fingerprint(["c", "a", "b"])
    assert data_fingerprint(["a", "b"]) != data_fingerprint(["a", "b", "c"])
