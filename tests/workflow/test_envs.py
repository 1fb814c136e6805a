"""The conda environment of the rules pins exactly what pyproject.toml pins."""

import tomllib

import yaml

from tests.conftest import REPO


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for line in requirements:
        name, _, version = line.partition("==")
        assert version, f"{line!r} is not pinned with =="
        out[name.strip().lower().replace("_", "-")] = version.strip()
    return out


def test_conda_env_agrees_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO / "envs" / "lolzoo.yaml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert pins(pip_section) == pins(project["dependencies"])
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    assert project["requires-python"] == ">=" + python.split("=")[1]
