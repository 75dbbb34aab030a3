"""The version of Latent Explorer, without importing torch (for `--version`)."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "latent-explorer"


def version() -> str:
    """The installed package's version, else pyproject.toml's (source checkout), else 'unknown'."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    return pyproject_version(Path(__file__).resolve().parents[1] / "pyproject.toml") or "unknown"


def pyproject_version(path: Path) -> str | None:
    """[project] version from a pyproject.toml, or None if there is none to read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            v = tomllib.loads(text).get("project", {}).get("version")
        except tomllib.TOMLDecodeError:
            return None
        return v if isinstance(v, str) else None
    # 3.10 has no tomllib: the one line setuptools reads is enough
    m = re.search(r'(?ms)^\[project\].*?^version\s*=\s*["\']([^"\']+)["\']', text)
    return m.group(1) if m else None
