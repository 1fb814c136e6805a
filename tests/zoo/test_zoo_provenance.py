"""A packed zoo says where it came from: the base's name and weight hash, the config and lolzoo version."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from lolzoo import __version__
from lolzoo.bases.identity import weights_sha256
from lolzoo.cli import main
from lolzoo.lora import write_peft
from lolzoo.lora.testing import random_lora
from lolzoo.recipes import plan
from lolzoo.zoo import read_zoo_info
from lolzoo.zoo.pack import pack_zoo
from tests.zoo.zoo_helpers import make_lora

SHAPES = {"model.layers.0.self_attn.k_proj": (8, 12)}


def test_pack_records_the_base_the_config_and_the_version(tmp_path, capsys):
    base = tmp_path / "bases" / "lm"
    base.mkdir(parents=True)
    (base / "base.json").write_text(json.dumps({"kind": "tiny-qwen2", "seed": 0}))
    (base / "model.safetensors").write_bytes(b"not really weights, but bytes to hash")
    loras = tmp_path / "loras"
    for i in range(3):  # declaring the folder they were trained from, as PEFT does
        write_peft(random_lora(SHAPES, rank=2, seed=i, base_model="results/bases/lm"), loras / f"arc-{i:05d}")
    given = {"world": "default", "config_sha256": "ab" * 32, "zoo_config": {"zoos": {"arc": {"count": 3}}}}
    (tmp_path / "provenance.json").write_text(json.dumps(given))
    out = tmp_path / "arc.parquet"
    assert main(["pack", "--loras", str(loras), "--out", str(out), "--base", str(base),
                 "--provenance", str(tmp_path / "provenance.json")]) == 0, capsys.readouterr().err
    info = read_zoo_info(out)
    assert info.base_model == "lolzoo/tiny-qwen2-lm"  # the base's name, not the path the LoRAs declare
    assert set(pq.read_table(out, columns=["base_model"]).column(0).to_pylist()) == {"lolzoo/tiny-qwen2-lm"}
    recorded = info.provenance
    assert recorded["base"]["sha256"] == weights_sha256(base)[0]
    assert recorded["base"]["kind"] == "tiny-qwen2"
    assert recorded["lolzoo_version"] == __version__
    assert {key: recorded[key] for key in given} == given


def test_a_bad_provenance_file_is_one_clear_error(tmp_path, capsys):
    loras = tmp_path / "loras"
    write_peft(random_lora(SHAPES, rank=2, seed=0), loras / "a")
    (tmp_path / "p.json").write_text("{not json")
    assert main(["pack", "--loras", str(loras), "--out", str(tmp_path / "z.parquet"),
                 "--provenance", str(tmp_path / "p.json")]) == 2
    assert "--provenance" in capsys.readouterr().err and not (tmp_path / "z.parquet").exists()


def test_provenance_survives_a_copy_and_an_old_zoo_has_none(tmp_path):
    path = tmp_path / "zoo.parquet"
    provenance = {"base": {"name": "org/base", "kind": "pretrained", "sha256": "cd" * 32}}
    pack_zoo([("a", make_lora(0))], None, path, "z", None, provenance=provenance)
    copy = tmp_path / "elsewhere" / "renamed.parquet"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    info = read_zoo_info(copy)
    assert info.provenance == provenance and info.base_model == "org/base"
    pack_zoo([("a", make_lora(0))], None, tmp_path / "old.parquet", "z", "some/base")
    assert read_zoo_info(tmp_path / "old.parquet").provenance == {}


def test_the_workflow_provenance_hashes_what_the_zoo_depends_on(repo):
    from lolzoo.config import load_config

    config = load_config(repo / "config" / "config.yaml")
    record = plan.zoo_provenance(config, "arc")
    assert record["world"] == "default" and len(record["config_sha256"]) == 64
    assert "arc" in record["zoo_config"]["zoos"] and "lm" in record["zoo_config"]["bases"]
    config["lol"]["seeds"] = [5]  # the LoL settings do not make the zoo
    assert plan.zoo_provenance(config, "arc")["config_sha256"] == record["config_sha256"]
    config["zoos"]["arc"]["count"] += 1
    assert plan.zoo_provenance(config, "arc")["config_sha256"] != record["config_sha256"]
    assert plan.zoo_base_dirs(config, "arc") == ["results/bases/lm"]
