"""Paper-world paths: null roots and base paths validate (DAG before download); given ones are checked."""

import copy

import pytest
import yaml

from lolzoo.config import ConfigError, validate_config
from tests.conftest import REPO


def paper() -> dict:
    with open(REPO / "config" / "paper.yaml") as handle:
        return copy.deepcopy(yaml.safe_load(handle))


def test_paper_world_validates_without_its_data_or_weights():
    config = paper()
    assert config["data"]["celeba"]["root"] is None and config["data"]["imagenette"]["root"] is None
    assert all(base.get("path") is None for base in config["bases"].values())
    validate_config(config, base_dir=REPO)


def test_explicit_roots_with_the_right_layout_validate(tmp_path):
    (tmp_path / "CelebA" / "img_align_celeba").mkdir(parents=True)
    for name in ("identity_CelebA.txt", "list_attr_celeba.txt"):
        (tmp_path / "CelebA" / name).write_text("")
    (tmp_path / "imagenette2" / "train").mkdir(parents=True)
    (tmp_path / "sd14").mkdir()
    config = paper()
    config["data"]["celeba"]["root"] = "CelebA"  # relative to base_dir
    config["data"]["imagenette"]["root"] = str(tmp_path / "imagenette2")
    config["bases"]["sd"]["path"] = "sd14"
    validate_config(config, base_dir=tmp_path)


@pytest.mark.parametrize("kind,missing", [("celeba", "identity_CelebA.txt, list_attr_celeba.txt"),
                                          ("imagenette", "train")])
def test_an_explicit_root_missing_its_files_names_the_key(tmp_path, kind, missing):
    (tmp_path / "data").mkdir()
    if kind == "celeba":
        (tmp_path / "data" / "img_align_celeba").mkdir()
    config = paper()
    config["data"][kind]["root"] = str(tmp_path / "data")
    with pytest.raises(ConfigError, match=rf"'data\.{kind}\.root'.*not a {kind} folder \(missing {missing}"):
        validate_config(config, base_dir=REPO)


def test_a_missing_explicit_path_still_fails():
    config = paper()
    config["data"]["celeba"]["root"] = "/no/such/CelebA"
    with pytest.raises(ConfigError, match=r"'data\.celeba\.root'.*does not exist"):
        validate_config(config, base_dir=REPO)


def test_a_pretrained_base_needs_its_name_even_with_a_path(tmp_path):
    config = paper()
    del config["bases"]["clip"]["name"]
    config["bases"]["clip"]["path"] = str(tmp_path)
    with pytest.raises(ConfigError, match=r"'bases\.clip\.name'.*needs its name"):
        validate_config(config, base_dir=REPO)
