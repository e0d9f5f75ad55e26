"""Kneo Agent Platform."""

from importlib import metadata

try:
    __version__ = metadata.version("kneo")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
