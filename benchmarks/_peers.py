"""Peers that are benchmark references only (never package dependencies), in their own venvs."""
from __future__ import annotations

import subprocess
from pathlib import Path

SUITE2P_INSTALL = "python3 -m venv /tmp/s2p-venv && /tmp/s2p-venv/bin/pip install suite2p"


def suite2p_missing(python: str) -> str | None:
    """Why suite2p's OASIS cannot be run by ``python`` (its column is then skipped), or None."""
    if not Path(python).exists():
        return f"{python} not found (install suite2p there: {SUITE2P_INSTALL})"
    check = subprocess.run([python, "-c", "import suite2p.extraction.dcnv"],
                           capture_output=True, text=True)
    if check.returncode:
        lines = check.stderr.strip().splitlines()
        return f"suite2p not importable by {python}: {lines[-1] if lines else 'unknown error'}"
    return None
