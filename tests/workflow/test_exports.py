"""The test world's exports (issue 21): every packed zoo knows its base by name and weight hash,
exports as a dataset folder its card vouches for, and its published models score its LoRAs."""

import json
import subprocess
import sys

import pytest

from lolzoo.bases.identity import base_name, weights_sha256
from lolzoo.config import load_config
from lolzoo.lora import read_lora
from lolzoo.publish.card_text import split_card
from lolzoo.recipes import plan
from lolzoo.zoo import read_zoo_info
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # reads the test world's run (tests/workflow/conftest.py)


def test_every_zoo_records_its_base_and_its_loras_declare_it(test_world):
    config = load_config(REPO / "config/test.yaml", REPO)
    results = test_world / "results"
    for zoo in plan.exported_zoos(config):
        info = read_zoo_info(results / "zoos" / f"{zoo}.parquet")
        assert info.provenance["world"] == "test" and len(info.provenance["config_sha256"]) == 64
        assert info.provenance["config_sha256"] == plan.zoo_provenance(config, zoo)["config_sha256"]
        base = config["zoos"][zoo].get("base")
        if base is None:  # the synthetic zoo: no base folder to hash
            continue
        folder = results / "bases" / base
        assert info.base_model == base_name(folder) != "unknown"
        assert info.provenance["base"]["sha256"] == weights_sha256(folder)[0]
        first = sorted(p for p in (results / zoo / "loras").glob("*/*") if p.is_dir())[0]
        assert read_lora(first).base_model == info.base_model


def test_every_zoo_exports_and_imports_back(test_world, tmp_path):
    config = load_config(REPO / "config/test.yaml", REPO)
    for zoo in plan.exported_zoos(config):
        folder = test_world / "results" / "exports" / zoo
        front, _ = split_card((folder / "README.md").read_text(), zoo)
        info = read_zoo_info(test_world / "results" / "zoos" / f"{zoo}.parquet")
        assert front["lolzoo"]["base"]["sha256"] == info.provenance.get("base", {}).get("sha256")
        assert sum(shard["rows"] for shard in front["lolzoo"]["shards"]) == config["zoos"][zoo]["count"]
        out = tmp_path / f"{zoo}.parquet"
        result = subprocess.run([sys.executable, "-m", "lolzoo", "import-zoo", str(folder), "--out", str(out)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert read_zoo_info(out).provenance == info.provenance


def test_published_models_score_the_zoos_loras(test_world):
    config = load_config(REPO / "config/test.yaml", REPO)
    published = plan.published_models(config)
    assert published, "config/test.yaml publishes at least one model"
    for relative in published:
        folder = test_world / relative
        zoo = folder.relative_to(test_world / plan.EXPORTS / "models").parts[0]
        model = json.loads((folder / "model.json").read_text())
        assert model["zoo"]["sha256"] and model["zoo"]["name"] == zoo
        lora = sorted(p for p in (test_world / "results" / zoo / "loras").glob("*/*") if p.is_dir())[0]
        result = subprocess.run([sys.executable, "-m", "lolzoo", "predict", "--model", str(folder), str(lora)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        notices = json.loads(result.stdout.splitlines()[0])["notices"]
        assert not [n for n in notices if "base" in n], notices  # the LoRA declares the zoo's own base
