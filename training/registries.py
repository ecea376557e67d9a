"""How a package is fetched by name through each registry's own client (training and evaluation sets alike)."""

from __future__ import annotations

import sys


def download_command(eco: str, name: str, dest: str) -> list[str]:
    """PyPI wheels carry Python source without a build; npm tarballs; Debian .debs (run with cwd=dest)."""
    if eco == "pypi":
        return [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", "-d", dest, name]
    if eco == "npm":
        return ["npm", "pack", "--silent", "--pack-destination", dest, name]
    return ["apt-get", "download", "-q", name]
