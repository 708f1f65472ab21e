"""The front-end registry: one module + one registration per front-end, outputs unchanged.

`tests/data/frontend_golden.json` was recorded with the code before the registry
(one `Frontend` class with if/elif chains): every built-in front-end's features,
a seeded network's embeddings and state-dict keys (the package format), and the
bundled model's clip and window scores on examples/clips. The registry must
reproduce them. Regenerate (only for a deliberate change) with
`PYTHONPATH=. python tests/test_frontend_registry.py`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import siamese.frontends as frontends
from siamese.config import AudioConfig, FrontendConfig, ModelConfig
from siamese.detector import Detector
from siamese.frontends.base import SpectralFrontend
from siamese.network import SiameseNetwork

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "data" / "frontend_golden.json"
BUNDLED = ROOT / "models" / "voxguard-default.vxpkg"
# float32 work; recorded and replayed bit-identically on this machine, the margin is for other CPUs' SIMD.
TOLERANCE = 1e-5


def _frontend_outputs(kind: str) -> dict:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    wave = torch.from_numpy((rng.normal(size=(2, 16000 * 2)) * 0.1).astype(np.float32))
    torch.manual_seed(0)
    config = ModelConfig().with_frontend(kind).replace(audio={"window_s": 2.0, "hop_s": 1.0})
    network = SiameseNetwork(config).eval()
    with torch.no_grad():
        features, embedding = network.frontend(wave), network(wave)
    return {"shape": list(features.shape), "features": features.flatten()[::97].tolist(),
            "sum": float(features.double().sum()), "embedding": embedding.flatten().tolist(),
            "encoder": [config.encoder.kind, list(config.encoder.channels)],
            "state_keys": sorted(network.state_dict().keys())}


def _bundled_scores() -> dict:
    torch.set_num_threads(1)
    detector = Detector.from_package(BUNDLED, device="cpu")
    clips = {}
    for path in sorted((ROOT / "examples" / "clips").iterdir()):
        result = detector.score(path, name=path.name)
        clips[path.name] = {"score": result.score, "windows": [s.score for s in result.segments]}
    return {"version": detector.version, "clips": clips}


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("kind", ["loglinear", "logmel", "lfcc", "whisper"])
def test_builtin_frontends_are_unchanged(kind, golden):
    expected, got = golden["frontends"][kind], _frontend_outputs(kind)
    assert got["shape"] == expected["shape"] and got["encoder"] == expected["encoder"]
    assert got["state_keys"] == expected["state_keys"]  # packages written before still load
    np.testing.assert_allclose(got["features"], expected["features"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(got["embedding"], expected["embedding"], rtol=0, atol=TOLERANCE)


def test_bundled_model_scores_on_the_examples_are_unchanged(golden):
    expected = golden["bundled"]
    got = _bundled_scores()
    if got["version"] != expected["version"]:
        pytest.skip(f"bundled model is now {got['version']}, golden recorded with {expected['version']}: regenerate")
    assert got["clips"].keys() == expected["clips"].keys()
    for name, clip in expected["clips"].items():
        assert got["clips"][name]["score"] == pytest.approx(clip["score"], abs=TOLERANCE), name
        np.testing.assert_allclose(got["clips"][name]["windows"], clip["windows"], rtol=0, atol=TOLERANCE)


class _Halves(SpectralFrontend):
    """A test front-end: log power of a 2-bin-pooled linear spectrogram, in its own class."""

    def __init__(self, config: FrontendConfig, audio: AudioConfig) -> None:
        super().__init__(config, audio)
        import torchaudio

        self.transform = torchaudio.transforms.Spectrogram(power=2.0, **self.stft_args(config))
        self.bin_pool = 2


def test_a_new_frontend_is_one_class_and_one_registration(monkeypatch):
    monkeypatch.setitem(frontends._registered, "halves", _Halves)
    assert "halves" in frontends.kinds()
    config = ModelConfig().with_frontend("whisper").with_frontend("halves")  # back to the 2-D encoder
    assert config.encoder.kind == "conv2d"
    network = SiameseNetwork(config.replace(audio={"window_s": 1.0, "hop_s": 0.5}, encoder={"channels": (8, 16)}))
    assert isinstance(network.frontend, _Halves)
    assert network.frontend(torch.randn(2, 16000)).shape == (2, 1, 129, 101)


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown front-end kind 'cqt'.*loglinear, logmel, lfcc, whisper"):
        ModelConfig().with_frontend("cqt")


def test_listing_kinds_does_not_import_torch():
    import subprocess

    code = "import sys, siamese.frontends as f; print(f.kinds(), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}).stdout
    assert out.strip() == "('loglinear', 'logmel', 'lfcc', 'whisper') False"


if __name__ == "__main__":  # regenerate the golden file (a deliberate change only)
    data = {"frontends": {k: _frontend_outputs(k) for k in ("loglinear", "logmel", "lfcc", "whisper")},
            "bundled": _bundled_scores()}
    GOLDEN.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {GOLDEN} (bundled model {data['bundled']['version']})")
