"""The frozen Whisper front-end: weights parsed from the installed CTranslate2 file,
parity with CTranslate2's own encoder, kept out of packages, never trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from siamese.calibration import Calibration, OperatingPoint
from siamese.config import ModelConfig
from siamese.network import SiameseNetwork
from siamese.package import ModelPackage
from siamese.whisper import WhisperLogMel, default_model_bin, load_whisper_encoder, read_ct2_model


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic tone with a moving pitch and noise bursts: exercises the whole mel range."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 2.3 * t) ** 2
    return (0.1 * envelope * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def whisper_config() -> ModelConfig:
    return ModelConfig().with_frontend("whisper").replace(audio={"window_s": 2.0, "hop_s": 1.0})


def test_parser_reads_the_installed_whisper_encoder() -> None:
    model = read_ct2_model(default_model_bin(), prefix="encoder/")
    assert model.spec_name == "WhisperSpec"
    assert model.variables["encoder/conv1/weight"].shape == (384, 80, 3)  # tiny: width 384, 80 mels
    assert model.variables["encoder/conv1/weight"].dtype == np.float32  # widened from float16
    assert not [name for name in model.variables if not name.startswith("encoder/")]
    with pytest.raises(ValueError, match="blocks"):
        load_whisper_encoder(9)


def test_encoder_matches_ctranslate2_on_a_30_second_window() -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    audio = torch.from_numpy(_speechlike(30.0))
    log_mel = WhisperLogMel()(audio[None])  # [1, 80, 3000]
    assert log_mel.shape == (1, 80, 3000)
    encoder = load_whisper_encoder(4)
    ours = read_ct2_model(default_model_bin(), prefix="encoder/layer_norm/").variables
    with torch.no_grad():
        hidden = F.layer_norm(
            encoder(log_mel), (384,), torch.from_numpy(ours["encoder/layer_norm/gamma"]),
            torch.from_numpy(ours["encoder/layer_norm/beta"]),
        )
    reference_model = ctranslate2.models.Whisper(str(default_model_bin().parent), device="cpu", compute_type="float32")
    reference = np.asarray(reference_model.encode(ctranslate2.StorageView.from_array(log_mel.numpy()), to_cpu=True))
    assert reference.shape == tuple(hidden.shape) == (1, 1500, 384)
    difference = np.abs(reference - hidden.numpy())
    # float32 on both sides, different kernels: typical error ~1e-6, rare outliers ~1e-3 on values of O(1-10).
    assert float(difference.mean()) < 1e-5 and float(difference.max()) < 1e-2, (difference.mean(), difference.max())


def test_whisper_weights_stay_out_of_packages_and_out_of_training(tmp_path: Path) -> None:
    torch.manual_seed(0)
    network = SiameseNetwork(whisper_config())
    state = network.state_dict()
    assert not [key for key in state if "whisper" in key]
    frozen = sum(p.numel() for p in network.frontend.whisper.parameters())

    network.train()
    assert not network.frontend.whisper.training  # frozen: inference mode while the head trains
    windows = torch.from_numpy(np.stack([_speechlike(2.0, seed) for seed in range(4)]))
    network.score(windows).sum().backward()
    assert all(p.grad is None for p in network.frontend.whisper.parameters())
    assert network.encoder.projection[0].weight.grad is not None

    network.eval()
    package = ModelPackage(
        config=network.config, state_dict=network.state_dict(), calibration=Calibration(1.0, 0.0),
        operating_point=OperatingPoint(threshold=0.0, abstain_low=0.0, abstain_high=0.0, method="test"),
    )
    path = package.save(tmp_path / "whisper.vxpkg")
    assert path.stat().st_size < 5 * 2**20
    # The file is smaller than half of the pretrained weights alone: none of them are in it.
    assert path.stat().st_size < frozen * 4 / 2
    rebuilt = ModelPackage.load(path).build_network().eval()
    with torch.no_grad():
        assert torch.allclose(rebuilt.score(windows), network.score(windows), atol=1e-5)


def test_all_layers_stack_the_stem_and_every_block_as_rows() -> None:
    """`whisper_layers="all"`: rows are the stem's and each block's hidden units, in that order; the
    encoder is sized from them, and an unknown choice is refused rather than silently read as "last"."""
    config = whisper_config().replace(frontend={"whisper_blocks": 2, "whisper_layers": "all"})
    network = SiameseNetwork(config).eval()
    waveform = torch.from_numpy(_speechlike(config.audio.window_s))[None]
    with torch.no_grad():
        rows = network.frontend.features(waveform)
        states = network.frontend.whisper.hidden_states(network.frontend.transform(waveform))
    d = network.frontend.whisper.d_model
    assert rows.shape[1] == 3 * d
    for i, state in enumerate(states):
        torch.testing.assert_close(rows[:, i * d:(i + 1) * d], state.transpose(1, 2))
    last = SiameseNetwork(whisper_config().replace(frontend={"whisper_blocks": 2})).eval()
    assert last.frontend.features(waveform).shape[1] == d
    with pytest.raises(ValueError, match="whisper_layers"):
        SiameseNetwork(whisper_config().replace(frontend={"whisper_layers": "middle"}))
