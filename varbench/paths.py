"""Where varbench's own files are. The one module that knows.

The configs live in the top-level `conf/` of the source tree; the build maps that folder into
the package as `varbench.conf` (see pyproject.toml), so an editable install, a wheel and a source
checkout all find them through the installed package, never through a relative path.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

CONF_PACKAGE = "varbench.conf"


def conf_dir() -> Path:
    """The directory holding config.yaml and the config groups (dataset/, method/, ...)."""
    path = Path(str(resources.files(CONF_PACKAGE)))
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(f"varbench's configs are missing from {path}: reinstall the package")
    return path


def method_dir() -> Path:
    """The directory of the registered methods' YAML files (one per method)."""
    return conf_dir() / "method"
