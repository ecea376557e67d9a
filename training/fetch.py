"""Fetch the training packages named in packages.txt, by name, through each registry's own client.

    python training/fetch.py [--data /work/data] [--jobs 6]

PyPI: `pip download --no-deps --only-binary :all:` (wheels carry the Python source; no build runs).
npm: `npm pack`.  Debian: `apt-get download` (Go, Rust, Ruby and PHP -dev packages ship source).
Downloads land in DATA/pkgs/<ecosystem>/; already-fetched names are skipped, so re-running resumes.
Packages held out for evaluation (benchmarks/datasets.py) are refused here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.heldout import HELD_OUT  # noqa: E402
from training.registries import download_command  # noqa: E402


def read_list(path: Path) -> list[tuple[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            eco, name = line.split()
            out.append((eco, name))
    return out


def fetch_one(eco: str, name: str, data: Path) -> tuple[str, str, bool, str]:
    dest = data / "pkgs" / eco / name.replace("/", "__")
    if (dest / ".done").exists():
        return eco, name, True, "cached"
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(download_command(eco, name, str(dest)), cwd=dest, capture_output=True, text=True, timeout=900)
    if proc.returncode == 0 and any(p.name != ".done" for p in dest.iterdir()):
        (dest / ".done").write_text("")
        return eco, name, True, ""
    return eco, name, False, (proc.stderr or proc.stdout).strip().splitlines()[-1:][0] if (proc.stderr or proc.stdout).strip() else "failed"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/data"))
    ap.add_argument("--jobs", type=int, default=6)
    args = ap.parse_args()
    wanted = read_list(HERE / "packages.txt")
    for eco, name in wanted:
        if (eco, name) in HELD_OUT:
            raise SystemExit(f"{eco} {name} is held out for evaluation; remove it from packages.txt")
    ok = bad = 0
    with ThreadPoolExecutor(args.jobs) as pool:
        for eco, name, good, msg in pool.map(lambda p: fetch_one(*p, args.data), wanted):
            if good:
                ok += 1
            else:
                bad += 1
                print(f"FAILED {eco} {name}: {msg}", flush=True)
    print(f"fetched {ok}, failed {bad}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
