"""Configs: every shipped world validates; every kind of breakage names the broken key."""

import copy

import pytest
import yaml

from lolzoo.config import ConfigError, load_config, validate_config
from tests.conftest import REPO

WORLDS = ["config.yaml", "test.yaml", "small.yaml", "paper.yaml"]


def shipped(name: str) -> dict:
    with open(REPO / "config" / name) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("name", WORLDS)
def test_shipped_configs_validate(name):
    config = load_config(REPO / "config" / name, base_dir=REPO)
    assert config["zoos"], name


def test_defaults_are_filled_in():
    config = shipped("test.yaml")
    del config["seed"]
    del config["lol"]
    del config["zoos"]["celeba"]["images_per_lora"]
    del config["zoos"]["arc"]["shard_size"], config["zoos"]["arc"]["evaluation"], config["zoos"]["arc"]["max_train_questions"]
    del config["bases"]["clip"]["pretrain"]["threads"], config["bases"]["clip"]["pretrain"]["faces"]
    validate_config(config)
    assert config["seed"] == 0
    assert config["lol"]["split"] == {"train": 0.8, "val": 0.1, "test": 0.1}
    assert config["lol"]["seeds"] == [0, 1, 2]
    assert config["lol"]["models"] == ["mlp", "o-align", "svd", "dense", "glnet"] and config["lol"]["tasks"] == {}
    assert config["zoos"]["celeba"]["images_per_lora"] == 21
    assert config["zoos"]["arc"]["sources"]["never_drop"] == ["Mercury"]
    # type-specific defaults only land on zoos of that type
    assert "images_per_lora" not in config["zoos"]["arc"]
    assert config["gpus_per_job"] == 0 and config["zoos"]["arc"]["shard_size"] == 1
    assert config["zoos"]["arc"]["evaluation"] == {"max_questions": None, "max_validation_questions": None,
                                                   "batch_size": 16}
    assert config["zoos"]["arc"]["max_train_questions"] is None
    assert config["zoos"]["arc"]["max_length"] == 256 and config["zoos"]["arc"]["micro_batch_size"] == 32
    assert "max_length" not in config["zoos"]["celeba"]
    assert config["bases"]["clip"]["pretrain"] == {"steps": 3, "threads": 2, "faces": 1000}


def broken(edit) -> dict:
    config = copy.deepcopy(shipped("test.yaml"))
    edit(config)
    return config


CASES = {
    "unknown top-level key": (lambda c: c.update(zooz={}), r"unknown config key 'zooz'"),
    "unknown nested key": (lambda c: c["zoos"]["celeba"].update(rnak=4), r"'zoos\.celeba\.rnak'"),
    "unknown key of another zoo type": (lambda c: c["zoos"]["arc"].update(images_per_lora=3),
                                         r"'zoos\.arc\.images_per_lora'"),
    "wrong type": (lambda c: c["zoos"]["celeba"].update(count="many"), r"'zoos\.celeba\.count'.*not of type 'integer'"),
    "negative count": (lambda c: c["zoos"]["arc"].update(count=-3), r"'zoos\.arc\.count'.*-3 is less than the minimum of 1"),
    "zero rank": (lambda c: c["zoos"]["arc"]["lora"].update(rank=0), r"'zoos\.arc\.lora\.rank'"),
    "missing required key": (lambda c: c["zoos"]["arc"].pop("lora"), r"'zoos\.arc'.*'lora' is a required property"),
    "bad distribution": (lambda c: c["zoos"]["arc"]["hparams"].update(lora_dropout={"gauss": [0, 1]}),
                         r"'zoos\.arc\.hparams\.lora_dropout'"),
    "inverted bounds": (lambda c: c["zoos"]["arc"]["hparams"].update(weight_decay={"loguniform": [1e-2, 1e-6]}),
                        r"'zoos\.arc\.hparams\.weight_decay\.loguniform'.*above upper bound"),
    "missing data path": (lambda c: c["data"]["digits"].update(root="no/such/folder"),
                          r"'data\.digits\.root'.*'no/such/folder' does not exist"),
    "missing base path": (lambda c: c["bases"]["lm"].update(path="/no/such/model"), r"'bases\.lm\.path'.*does not exist"),
    "dangling base reference": (lambda c: c["zoos"]["arc"].update(base="gpt"), r"'zoos\.arc\.base'.*'gpt' is not an entry of 'bases'"),
    "more subjects than identities": (lambda c: c["zoos"]["celeba"].update(count=17), r"'zoos\.celeba\.count'.*identities"),
    "split not summing to one": (lambda c: c["lol"]["split"].update(train=0.9), r"'lol\.split'.*must be 1"),
    "drop count above sources": (lambda c: c["zoos"]["arc"]["sources"].update(drop_count=[1, 30]),
                                 r"'zoos\.arc\.sources\.drop_count'"),
    "never-drop also droppable": (lambda c: c["zoos"]["arc"]["sources"].update(never_drop=["MCAS"]),
                                  r"'zoos\.arc\.sources\.droppable'.*MCAS"),
    "bad zoo name": (lambda c: c["zoos"].update({"Bad Name": c["zoos"]["arc"]}), r"'Bad Name'"),
    "zero shard size": (lambda c: c["zoos"]["celeba"].update(shard_size=0), r"'zoos\.celeba\.shard_size'"),
    "data shards that split a training shard": (lambda c: c["zoos"]["celeba"].update(data_shard_size=4),
                                                 r"'zoos\.celeba\.data_shard_size': 4 is not a multiple of shard_size 3"),
    "data shards of a language zoo": (lambda c: c["zoos"]["arc"].update(data_shard_size=6),
                                      r"'zoos\.arc\.data_shard_size'"),
    "tiny base without a step budget": (lambda c: c["bases"]["sd"].pop("pretrain"), r"'bases\.sd\.pretrain' is missing"),
    "tiny-sd without VAE steps": (lambda c: c["bases"]["sd"]["pretrain"].pop("vae_steps"),
                                  r"'bases\.sd\.pretrain\.vae_steps' is missing"),
    "VAE steps for a CLIP": (lambda c: c["bases"]["clip"]["pretrain"].update(vae_steps=3),
                             r"'bases\.clip\.pretrain\.vae_steps': a tiny-clip base has no VAE"),
    "text encoder that is not a tiny CLIP": (lambda c: c["bases"]["sd"].update(text_encoder="lm"),
                                            r"'bases\.sd\.text_encoder': 'lm' is not a tiny-clip entry of 'bases' \(tiny-clip: clip\)"),
    "text encoder on a CLIP": (lambda c: c["bases"]["clip"].update(text_encoder="clip"),
                               r"'bases\.clip\.text_encoder': only a tiny-sd base"),
    "digit share of a CLIP": (lambda c: c["bases"]["clip"]["pretrain"].update(digit_share=0.5),
                              r"'bases\.clip\.pretrain\.digit_share': only a tiny-sd base"),
    "digit share of one": (lambda c: c["bases"]["sd"]["pretrain"].update(digit_share=1.0),
                           r"'bases\.sd\.pretrain\.digit_share'"),
    "pretraining a base the workflow does not pretrain": (
        lambda c: c["bases"].update(lm={"kind": "pretrained", "name": "a/b", "pretrain": {"steps": 3}}),
        r"'bases\.lm\.pretrain': only tiny-sd, tiny-clip, tiny-qwen2"),
    "parent that is not a tiny SD": (lambda c: c["bases"]["sd_sibling"].update(parent="clip"),
                                     r"'bases\.sd_sibling\.parent': 'clip' is not another tiny-sd entry"),
    "parent of a CLIP": (lambda c: c["bases"]["clip"].update(parent="sd"), r"'bases\.clip\.parent': only a tiny-sd"),
    "sibling with its own VAE steps": (lambda c: c["bases"]["sd_sibling"]["pretrain"].update(vae_steps=2),
                                       r"'bases\.sd_sibling\.pretrain\.vae_steps': a base with a parent keeps"),
    "sibling with its own text encoder": (lambda c: c["bases"]["sd_sibling"].update(text_encoder="clip"),
                                          r"'bases\.sd_sibling\.text_encoder': a base with a parent keeps"),
    "parents in a loop": (lambda c: c["bases"]["sd"].update(parent="sd_sibling"), r"form a loop"),
    "DoRA on a diffusion zoo": (lambda c: c["zoos"]["celeba"]["lora"].update(dora=True),
                                r"'zoos\.celeba\.lora\.dora': DoRA is trained for language zoos"),
    "DoRA as a string": (lambda c: c["zoos"]["arc"]["lora"].update(dora="yes"), r"zoos\.arc\.lora\.dora"),
    "transfer from a zoo without tasks": (lambda c: c["lol"]["transfer"].update(imagenette=["celeba"]),
                                          r"'lol\.transfer\.imagenette': 'imagenette' has no LoL tasks"),
    "transfer to an unknown zoo": (lambda c: c["lol"]["transfer"].update(celeba=["celebb"]),
                                   r"'lol\.transfer\.celeba': 'celebb' is not another entry of 'zoos'"),
    "transfer to itself": (lambda c: c["lol"]["transfer"].update(celeba=["celeba"]), r"'celeba' is not another entry"),
    "transfer to another kind of zoo": (lambda c: c["lol"]["transfer"].update(celeba=["imagenette"]),
                                        r"'imagenette' is a dreambooth-classes zoo"),
    "evaluation without a CLIP": (lambda c: c["zoos"]["celeba"].pop("clip"),
                                  r"'zoos\.celeba\.clip' is missing: the evaluation's CLIP score needs a CLIP"),
    "CLIP score of a zoo without evaluation": (lambda c: c["zoos"]["celeba"].pop("evaluation"),
                                               r"'lol\.tasks\.celeba\.clip_score': targets clip_score, but "
                                               r"'zoos\.celeba' has no evaluation"),
    "unknown sampler": (lambda c: c["zoos"]["celeba"]["evaluation"].update(sampler="plms"),
                        r"'zoos\.celeba\.evaluation\.sampler'"),
    "no images per prompt": (lambda c: c["zoos"]["celeba"]["evaluation"].update(images_per_prompt=0),
                             r"'zoos\.celeba\.evaluation\.images_per_prompt'"),
    "negative GPUs": (lambda c: c.update(gpus_per_job=-1), r"'gpus_per_job'"),
    "LoL tasks of an unknown zoo": (lambda c: c["lol"]["tasks"].update(celebb={"x": {"kind": "regression", "targets": ["y"]}}),
                                    r"'lol\.tasks\.celebb': 'celebb' is not an entry of 'zoos'"),
    "multiclass task on two columns": (
        lambda c: c["lol"]["tasks"]["synthetic"].update(two={"kind": "multiclass", "targets": ["a", "b"]}),
        r"'lol\.tasks\.synthetic\.two\.targets': a multiclass task predicts one column"),
    "unknown LoL model": (lambda c: c["lol"].update(models=["mlp", "transformer"]), r"'lol\.models\.1'"),
    "unknown preset": (lambda c: c["lol"]["tasks"]["celeba"]["clip_score"].update(preset="fast"),
                       r"'lol\.tasks\.celeba\.clip_score\.preset'"),
    "rank zero to train on": (lambda c: c["lol"]["tasks"]["synthetic"]["by_rank"].update(train_ranks=[0]),
                              r"'lol\.tasks\.synthetic\.by_rank\.train_ranks\.0'"),
    "task without targets": (lambda c: c["lol"]["tasks"]["celeba"]["clip_score"].update(targets=[]),
                             r"'lol\.tasks\.celeba\.clip_score\.targets'"),
    # the message is the value's, not a list of the zoo type's keys as "unknown" (its branch failed)
    "unknown precision": (lambda c: c["zoos"]["celeba"].update(precision="fp8"),
                          r"^config key 'zoos\.celeba\.precision': 'fp8' is not one of \['fp32', 'fp16', 'bf16'\]$"),
    "precision as a number": (lambda c: c["zoos"]["arc"].update(precision=16),
                              r"^config key 'zoos\.arc\.precision': 16 is not one of"),
    "precision of a synthetic zoo": (lambda c: c["zoos"]["synthetic"].update(precision="bf16"),
                                     r"^unknown config key 'zoos\.synthetic\.precision' \("),
}


def test_precision_is_optional_and_no_default_is_filled_in():
    """Absent means fp32 in the jobs; not filling it in keeps every existing zoo's job files as they were."""
    config = shipped("test.yaml")
    for zoo in ("celeba", "arc"):
        config["zoos"][zoo]["precision"] = "bf16"
    validate_config(config, base_dir=REPO)
    assert "precision" not in shipped("test.yaml")["zoos"]["imagenette"]
    plain = shipped("test.yaml")
    validate_config(plain, base_dir=REPO)
    assert all("precision" not in zoo for zoo in plain["zoos"].values())


def test_the_paper_world_trains_its_diffusion_zoos_in_fp16():
    zoos = shipped("paper.yaml")["zoos"]
    assert {name: zoo.get("precision") for name, zoo in zoos.items()} == \
        {"celeba": "fp16", "imagenette": "fp16", "imagenette_sd15": "fp16", "arc": "fp32"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_config_names_the_key(case):
    edit, pattern = CASES[case]
    with pytest.raises(ConfigError, match=pattern):
        validate_config(broken(edit), base_dir=REPO)


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("zoos: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad_yaml)
    a_list = tmp_path / "list.yaml"
    a_list.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(a_list)
