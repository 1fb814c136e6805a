"""Recipes: the paper's zoo counts and distributions, determinism, stable ids."""

import copy
import io
import math
import subprocess
import sys
from collections import Counter
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest

from lolzoo.config import load_config
from lolzoo.recipes import all_recipes, zoo_recipes
from tests.conftest import REPO

PAPER_SOURCES = ["MCAS", "NYSEDREGENTS", "TIMSS", "ACTAAP", "NCEOGA", "MDSA", "VASoL", "AKDE&ED", "CSZ",
                 "MEA", "LEAP", "NAEP", "MSA", "OHAT", "AIMS", "TAKS", "MEAP", "FCAT", "WASL"]


@lru_cache(maxsize=1)
def paper_table() -> pd.DataFrame:
    """The paper world's recipes exactly as a user gets them: the CLI's CSV."""
    out = subprocess.run([sys.executable, "-m", "lolzoo", "recipes", "config/paper.yaml"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return pd.read_csv(io.StringIO(out), keep_default_na=False, na_values=[""])


def paper_zoo(name: str) -> pd.DataFrame:
    table = paper_table()
    return table[table["zoo"] == name]


def test_paper_counts_and_columns():
    table = paper_table()
    assert len(table) == 8246
    assert table["zoo"].value_counts().to_dict() == {"celeba": 3900, "imagenette": 2046, "arc": 2000,
                                                     "imagenette_sd15": 300}
    assert list(table.columns[:4]) == ["zoo", "lora_id", "index", "seed"]
    assert {"rank", "lora_alpha", "learning_rate"} <= set(table.columns)
    assert table["lora_id"].is_unique
    assert table["seed"].is_unique  # distinct seeds: no two LoRAs share an init


def test_paper_celeba_grid():
    zoo = paper_zoo("celeba")
    assert set(zoo["rank"]) == {4} and set(zoo["lora_alpha"]) == {27}
    assert sorted(zoo["subject"]) == list(range(3900))  # one celebrity per LoRA
    assert set(zoo["max_train_steps"]) == {100, 133, 167, 200}
    assert set(zoo["gradient_accumulation_steps"]) == {1, 2}
    assert set(zoo["instance_prompt"]) == {"celebrity", "person", "thing", "skd"}
    # The code's list holds 3e-3 twice: half the LoRAs use it, a quarter each the others.
    shares = zoo["learning_rate"].value_counts(normalize=True)
    assert shares[3e-3] == pytest.approx(0.5, abs=0.03)
    assert shares[1e-4] == pytest.approx(0.25, abs=0.03) and shares[1e-3] == pytest.approx(0.25, abs=0.03)
    for column in ("max_train_steps", "instance_prompt"):
        assert zoo[column].value_counts(normalize=True).between(0.22, 0.28).all(), column


def test_paper_imagenette_every_subset_twice():
    zoo = paper_zoo("imagenette")
    assert set(zoo["rank"]) == {32}
    masks = zoo["classes"].map(lambda s: sum(1 << int(c) for c in str(s).split("|")))
    assert Counter(Counter(masks).values()) == {2: 1023}  # each of the 1023 subsets exactly twice
    assert (zoo["num_classes"] == zoo["classes"].map(lambda s: len(str(s).split("|")))).all()
    assert sorted(Counter(zoo["replicate"]).items()) == [(0, 1023), (1, 1023)]


def test_paper_arc_distributions():
    zoo = paper_zoo("arc")
    dropped = zoo["dropped_sources"].map(lambda s: s.split("|"))
    assert all(set(d) <= set(PAPER_SOURCES) for d in dropped)
    assert not any("Mercury" in d for d in dropped)
    counts = dropped.map(len)
    assert (counts == zoo["num_dropped"]).all()
    assert counts.min() == 1 and counts.max() == 19
    # uniform count on 1..19: ~105 each; a 4-sigma band
    assert Counter(counts).most_common()[-1][1] > 60 and Counter(counts).most_common(1)[0][1] < 150
    # every source dropped about as often: E = 2000 * 10/19 ~ 1053
    per_source = Counter(s for d in dropped for s in d)
    assert all(900 < per_source[s] < 1200 for s in PAPER_SOURCES)
    lr = np.log(zoo["learning_rate"])
    assert lr.min() >= math.log(1e-5) and lr.max() <= math.log(1e-3)
    assert lr.mean() == pytest.approx(math.log(1e-4), abs=0.15)  # log-uniform: mean of logs at the middle
    wd = np.log(zoo["weight_decay"])
    assert wd.min() >= math.log(1e-6) and wd.max() <= math.log(1e-2)
    assert wd.mean() == pytest.approx(math.log(1e-4), abs=0.2)
    assert set(zoo["num_epochs"]) == {2, 3, 4} and set(zoo["batch_size"]) == {32, 64, 128}
    assert zoo["lora_dropout"].between(0, 0.1).all() and zoo["lora_dropout"].mean() == pytest.approx(0.05, abs=0.005)


def test_recipes_are_a_pure_function_of_the_config():
    config = load_config(REPO / "config" / "paper.yaml")
    assert all_recipes(config) == all_recipes(copy.deepcopy(config))
    other = copy.deepcopy(config)
    other["seed"] = 1
    assert zoo_recipes("arc", other["zoos"]["arc"], 1)[0] != zoo_recipes("arc", config["zoos"]["arc"], 0)[0]


@pytest.mark.parametrize("zoo_name", ["celeba", "imagenette", "arc"])
def test_ids_and_recipes_are_stable_when_a_zoo_grows(zoo_name):
    config = load_config(REPO / "config" / "paper.yaml")
    small = copy.deepcopy(config["zoos"][zoo_name])
    small["count"] = 100
    big = copy.deepcopy(small)
    big["count"] = 1000
    few, many = zoo_recipes(zoo_name, small, 0), zoo_recipes(zoo_name, big, 0)
    assert many[:100] == few
    assert many[17]["lora_id"] == f"{zoo_name}-00017"


def test_adding_a_hyperparameter_keeps_the_others():
    config = load_config(REPO / "config" / "paper.yaml")
    zoo = copy.deepcopy(config["zoos"]["arc"])
    before = zoo_recipes("arc", zoo, 0)
    zoo["hparams"] = {"warmup_steps": {"randint": [0, 10]}, **zoo["hparams"]}
    after = zoo_recipes("arc", zoo, 0)
    for old, new in zip(before, after):
        assert {k: v for k, v in new.items() if k != "warmup_steps"} == old


def test_rank_distribution_for_rank_generalisation_zoos():
    config = load_config(REPO / "config" / "test.yaml")
    zoo = copy.deepcopy(config["zoos"]["celeba"])
    zoo["lora"]["rank"] = {"choice": [1, 2, 4, 8, 16, 32]}
    zoo["count"] = 16
    ranks = [row["rank"] for row in zoo_recipes("celeba", zoo, 0)]
    assert set(ranks) <= {1, 2, 4, 8, 16, 32} and len(set(ranks)) > 2
    assert all(row["lora_alpha"] == 27 for row in zoo_recipes("celeba", zoo, 0))


def test_small_class_zoo_covers_every_class():
    config = load_config(REPO / "config" / "config.yaml")
    rows = zoo_recipes("imagenette", config["zoos"]["imagenette"], 0)
    present = Counter(c for row in rows for c in row["classes"].split("|"))
    assert set(present) == {str(c) for c in range(10)}
    assert len({row["classes"] for row in rows}) == len(rows)  # distinct subsets before any repeats


def test_cli_errors_are_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lolzoo", "recipes", "config/test.yaml", "--zoo", "nope"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "lolzoo recipes: error: no zoo named nope in the config (zoos: celeba, celeba_sibling, imagenette, arc, synthetic)"
    bad = tmp_path / "bad.yaml"
    bad.write_text("world: x\nzoos: {arc: {count: -1}}\n")
    result = subprocess.run([sys.executable, "-m", "lolzoo", "recipes", str(bad)], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "config key 'zoos.arc" in result.stderr
