"""The wheel ships every package and every config: the package list in pyproject.toml is complete."""
import tomllib
from pathlib import Path

from varbench.paths import conf_dir, method_dir

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_code_package_is_declared():
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "varbench").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}  # data folders too (report templates)
    assert found - _declared() == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"


def test_every_config_folder_is_declared():
    folders = {p.parent for p in (ROOT / "conf").rglob("*.yaml")}
    found = {".".join(("varbench", *f.relative_to(ROOT).parts)) for f in folders}
    assert found - _declared() == set(), "add these config folders to [tool.setuptools] packages in pyproject.toml"


def test_configs_are_found_through_the_package():
    assert (conf_dir() / "config.yaml").is_file()
    assert len(list(method_dir().glob("*.yaml"))) > 20


def test_the_built_wheel_holds_every_source_and_config_file(tmp_path):
    """Build the wheel (no dependencies, no network) and compare its files with the source tree:
    every .py and data file under varbench/ and every config under conf/ must ship."""
    import subprocess
    import sys
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(tmp_path)], check=True, capture_output=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("varbench-*.whl")
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if not n.startswith("varbench-")}
    source = {str(p.relative_to(ROOT)) for p in (ROOT / "varbench").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    source |= {"varbench/" + str(p.relative_to(ROOT)) for p in (ROOT / "conf").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert source - shipped == set(), "missing from the wheel: add them to package-data in pyproject.toml"
