"""scripts/system-deps (run by `make test` and .ci/run): quiet when all is there, one line
naming what is missing, and never stops `make test` when it cannot install.

Runs the real script with a PATH of stand-in executables, so nothing is installed.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "system-deps"
TOOLS = ("ffmpeg", "espeak-ng", "flite", "sox", "chromium", "festival", "initdb")


def _run(tmp_path: Path, present: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in present:
        stub = bin_dir / name
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    # No dpkg-query, ls or apt-get on this PATH: the script must cope with their absence.
    return subprocess.run(["/bin/bash", str(SCRIPT), *args], env={"PATH": str(bin_dir)},
                          capture_output=True, text=True, timeout=60)


def test_nothing_to_do_is_silent(tmp_path: Path) -> None:
    run = _run(tmp_path, TOOLS)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert _run(tmp_path, TOOLS, "--check").returncode == 0


def test_missing_packages_are_named_on_one_line(tmp_path: Path) -> None:
    present = tuple(t for t in TOOLS if t not in ("sox", "initdb"))
    check = _run(tmp_path, present, "--check")
    assert check.returncode == 1
    assert check.stdout.strip() == "system-deps: missing: sox postgresql"
    # Cannot install here (no apt-get): one line, and `make test` carries on.
    run = _run(tmp_path, present)
    assert run.returncode == 0
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert "sox postgresql" in run.stderr
