"""The wheel must carry the grammar queries, or chunking silently degrades to line windows."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_every_grammar_query(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    wheel = next(tmp_path.glob("codesearch-*.whl"))
    shipped = {Path(name).name for name in zipfile.ZipFile(wheel).namelist() if name.endswith(".scm")}
    assert shipped == {p.name for p in (ROOT / "codesearch/grammars").glob("*.scm")}
    assert len(shipped) >= 12
