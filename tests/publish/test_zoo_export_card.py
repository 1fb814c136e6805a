"""The dataset card: Markdown with YAML front matter the hub reads, every licence named, facts not
recorded said so."""

from __future__ import annotations

import json

import yaml

from lolzoo.cli import main
from lolzoo.publish.card_text import split_card
from lolzoo.publish.licences import DATA, UNKNOWN_TERMS, base_licence
from lolzoo.publish.zoo_export import export_zoo
from tests.publish.export_helpers import BASE_SHA, PROVENANCE, write_zoo

FRONT_KEYS = {"license", "pretty_name", "task_categories", "size_categories", "tags", "configs", "lolzoo"}


def card_of(folder):
    text = (folder / "README.md").read_text(encoding="utf-8")
    front, body = split_card(text, "README.md")
    assert text.startswith("---\n") and yaml.safe_load(text.split("---\n")[1]) == front
    return front, body


def test_front_matter_parses_and_points_at_the_shards(tmp_path):
    exported = export_zoo(write_zoo(tmp_path / "zoo.parquet", "dora"), tmp_path / "export")
    front, body = card_of(tmp_path / "export")
    assert FRONT_KEYS <= set(front)
    assert front["size_categories"] == ["n<1K"] and "lora" in front["tags"]
    assert set(front["task_categories"]) == {"tabular-regression", "tabular-classification"}
    files = front["configs"][0]["data_files"]
    assert front["configs"][0]["config_name"] == "default"
    assert [f["split"] for f in files] == ["train", "validation", "test"]
    assert all(f["path"] == f"data/{f['split']}-*" for f in files)
    block = front["lolzoo"]
    assert block["base"] == {"name": "lolzoo/tiny-sd-sd", "kind": "tiny-sd", "sha256": BASE_SHA}
    assert block["dora"] is True and "alpha/r not folded" in block["weights"]
    assert not {"r_max", "scaling_folded"} & set(block)
    assert block["config_sha256"] == PROVENANCE["config_sha256"]
    assert block["shards"] == [s.to_dict() for s in exported.shards]
    assert [m["name"] for m in block["modules"]] == [s.name for s in exported.info.modules]
    assert BASE_SHA in body  # the prose states the base hash too
    for heading in ("Columns", "How the labels were measured", "Recipes", "licences", "Loading", "Citation",
                    "Known limitations"):
        assert heading in body
    assert "a photo of the digit three" in body and "dpm-solver" in body  # how clip_score was measured
    assert "Array2D" not in body.split("Why one bytes column")[0]  # named only where the choice is explained
    for spec in exported.info.modules:  # the decoder's module list, printed in its code block
        assert f"({spec.name!r}, {spec.n}, {spec.m})," in body


def test_card_names_every_licence_of_the_base_and_data(tmp_path):
    export_zoo(write_zoo(tmp_path / "zoo.parquet"), tmp_path / "export")
    front, body = card_of(tmp_path / "export")
    # a tiny-sd base (MIT, pretrained on digits and faces), procedural faces, a tiny CLIP scorer
    assert set(front["license"] if isinstance(front["license"], list) else [front["license"]]) == \
        {"mit", "cc-by-4.0"}
    for licence in (DATA["procedural-faces"], DATA["sklearn-digits"], base_licence({"kind": "tiny-sd"})):
        assert licence.terms in body
    assert "inherit the use terms" in body


def test_a_zoo_without_provenance_says_not_recorded(tmp_path):
    export_zoo(write_zoo(tmp_path / "zoo.parquet", provenance={}), tmp_path / "export")
    front, body = card_of(tmp_path / "export")
    assert front["license"] == "unknown" and UNKNOWN_TERMS in body
    assert front["lolzoo"]["base"]["sha256"] is None
    assert "not recorded" in body


def test_cli_takes_the_config_and_reliability_of_an_old_zoo(tmp_path, repo):
    zoo = write_zoo(tmp_path / "zoo.parquet", provenance={})
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    config["zoos"] = {"faces_zoo": {**config["zoos"]["celeba"], "count": 40}}
    config["lol"]["tasks"] = {}
    config["lol"].pop("transfer", None)
    (tmp_path / "world.yaml").write_text(yaml.safe_dump(config))
    reliability = {"zoo": "faces_zoo", "labels": {
        "Male": {"status": "exact", "why": "a data label: fixed by construction"},
        "clip_score": {"status": "measured", "method": "test-retest (Pearson correlation)", "n": 40,
                       **{f"{m}{s}": 0.9 for m in ("reliability", "ceiling_r2", "ceiling_tau")
                          for s in ("", "_low", "_high")}}}}
    (tmp_path / "reliability.json").write_text(json.dumps(reliability))
    assert main(["export", str(zoo), "--out", str(tmp_path / "export"), "--config", str(tmp_path / "world.yaml"),
                 "--reliability", str(tmp_path / "reliability.json")]) == 0
    front, body = card_of(tmp_path / "export")
    assert "cc-by-4.0" in front["license"] and "taken from" in body
    assert "0.900 [0.900, 0.900]" in body and "exact (a data label" in body
