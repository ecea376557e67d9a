"""The local backend on a machine without its optional extra: one line that says what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WITHOUT_TORCH = "import sys; sys.modules.update(torch=None, transformers=None); from codesearch.cli import main; main()"
"""The real CLI in a process where importing torch or transformers fails, as where they are not installed."""


def test_local_embedder_without_torch_names_the_extra(repo: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "CODESEARCH_INDEX"}
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, "index", str(repo), "--embedder", "local"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert result.returncode != 0
    assert result.stderr.startswith("codesearch: error: the local embedder needs torch and transformers")
    assert result.stderr.endswith(' `pip install torch transformers huggingface-hub`\n') and result.stderr.count("\n") == 1
    assert '`pip install ".[local]"`' in result.stderr
    assert "Traceback" not in result.stderr
