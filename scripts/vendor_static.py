#!/usr/bin/env python3
"""Refresh the vendored front-end libraries under ``dispatch/static/vendor/`` from the npm registry.

    python scripts/vendor_static.py            # (re)write the vendored files from the pinned tarballs
    python scripts/vendor_static.py --check    # exit 1 when a vendored file differs from its tarball

Standard library only. For each pinned package it gets the registry's tarball (``npm pack`` when npm is on the
PATH, else a plain HTTPS download from registry.npmjs.org), refuses it unless its SHA-512 equals the pinned
``dist.integrity`` (what ``npm view <name>@<version> dist.integrity`` prints), and copies only the files the
pages use, plus the licence, byte for byte. To move to a new version: change ``version`` and ``integrity``
below (from ``npm view``), run this script, read the upstream changelog, run the browser tests that use it
(``tests/e2e/test_map.py``, ``tests/e2e/test_reports_page.py``), and update ``dispatch/static/vendor/README.md``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "dispatch" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity ("sha512-<base64>")
    files: dict[str, str]  # path inside the tarball (under package/) -> path under VENDOR

    @property
    def tarball_url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


PACKAGES = [
    Package(
        name="leaflet",
        version="1.9.4",
        integrity="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
        files={
            "dist/leaflet.js": "leaflet/leaflet.js",
            "dist/leaflet.css": "leaflet/leaflet.css",
            "dist/images/layers.png": "leaflet/images/layers.png",
            "dist/images/layers-2x.png": "leaflet/images/layers-2x.png",
            "dist/images/marker-icon.png": "leaflet/images/marker-icon.png",
            "dist/images/marker-icon-2x.png": "leaflet/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png": "leaflet/images/marker-shadow.png",
            "LICENSE": "leaflet/LICENSE",
        },
    ),
    Package(
        name="leaflet.markercluster",
        version="1.5.3",
        integrity="sha512-vPTw/Bndq7eQHjLBVlWpnGeLa3t+3zGiuM7fJwCkiMFq+nmRuG3RI3f7f4N4TDX7T4NpbAXpR2+NTRSEGfCSeA==",
        files={
            "dist/leaflet.markercluster.js": "leaflet.markercluster/leaflet.markercluster.js",
            "dist/MarkerCluster.css": "leaflet.markercluster/MarkerCluster.css",
            "dist/MarkerCluster.Default.css": "leaflet.markercluster/MarkerCluster.Default.css",
            "MIT-LICENCE.txt": "leaflet.markercluster/LICENSE",
        },
    ),
    Package(
        name="echarts",
        version="6.1.0",
        integrity="sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
        files={
            "dist/echarts.min.js": "echarts/echarts.min.js",
            "LICENSE": "echarts/LICENSE",
            "NOTICE": "echarts/NOTICE",
        },
    ),
]


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_tarball(package: Package) -> bytes:
    """The package's tarball as the registry serves it: ``npm pack`` (npm's cache, proxy and registry settings)
    when npm is installed, else a direct download."""
    npm = shutil.which("npm")
    if npm:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([npm, "pack", f"{package.name}@{package.version}", "--pack-destination", tmp, "--silent"],
                           check=True, stdout=subprocess.DEVNULL)
            (tarball,) = Path(tmp).glob("*.tgz")
            return tarball.read_bytes()
    url = package.tarball_url
    if not url.startswith("https://"):
        raise SystemExit(f"refusing a non-HTTPS registry URL: {url}")
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https only, checked above)
        return response.read()


def unpack(package: Package, tarball: bytes) -> dict[str, bytes]:
    """The wanted files of a verified tarball: {path under VENDOR: bytes}."""
    got = integrity_of(tarball)
    if got != package.integrity:
        raise SystemExit(f"{package.name}@{package.version}: integrity mismatch\n  pinned {package.integrity}\n  got    {got}")
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        for source, target in package.files.items():
            member = tar.getmember(f"package/{source}")
            if not member.isfile():
                raise SystemExit(f"{package.name}: {source} is not a regular file in the tarball")
            handle = tar.extractfile(member)
            assert handle is not None
            out[target] = handle.read()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare the vendored files with the tarballs")
    args = parser.parse_args(argv)
    stale = []
    for package in PACKAGES:
        files = unpack(package, fetch_tarball(package))
        for target, data in files.items():
            path = VENDOR / target
            if args.check:
                if not path.is_file() or path.read_bytes() != data:
                    stale.append(target)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        print(f"{package.name}@{package.version}: {len(files)} files {'checked' if args.check else 'written'} "
              f"({package.integrity[:22]}...)")
    if stale:
        print("differ from the pinned tarballs: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
