"""`lolzoo fit` on a DoRA zoo and `lolzoo predict` on DoRA adapters (paper, appendix E): the
magnitudes reach the model, a DoRA adapter file scores as its zoo row did, a plain LoRA is refused
by a DoRA model, and a plain model scores a DoRA adapter's low-rank part with a notice."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from lolzoo.cli import main
from lolzoo.lora import write_peft
from lolzoo.lora.testing import with_magnitudes
from lolzoo.synthetic.generator import synthetic_lora
from lolzoo.zoo import pack_zoo
from tests.small_zoo import small_zoo_spec

COUNT = 40
KINDS = ("mlp", "glnet")


def dora_lora(index: int):
    return with_magnitudes(synthetic_lora(small_zoo_spec(COUNT), index), seed=index)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A DoRA zoo whose label is the mean magnitude, an MLP and a GL-net fitted on it, and a plain GL-net."""
    root = tmp_path_factory.mktemp("dora")
    entries = [(f"dora-{i:03d}", dora_lora(i)) for i in range(COUNT)]
    labels = pd.DataFrame({"lora_id": [i for i, _ in entries],
                           "mean_magnitude": [float(sum(m.magnitude.mean() for m in lora.modules))
                                              for _, lora in entries]})
    pack_zoo(entries, labels, root / "dora.parquet", "dora", None)
    plain = [(lora_id, lora.without_magnitudes()) for lora_id, lora in entries]
    pack_zoo(plain, labels, root / "plain.parquet", "plain", None)
    for kind in KINDS:
        assert main(["fit", "--zoo", str(root / "dora.parquet"), "--task", "regression", "--target",
                     "mean_magnitude", "--model", kind, "--out", str(root / kind), "--epochs", "2"]) == 0
    assert main(["fit", "--zoo", str(root / "plain.parquet"), "--task", "regression", "--target",
                 "mean_magnitude", "--model", "glnet", "--out", str(root / "plain-glnet"), "--epochs", "2"]) == 0
    return root


def test_fit_builds_a_magnitude_model_on_a_dora_zoo(fitted):
    for kind in KINDS:
        config = json.loads((fitted / kind / "metrics.json").read_text())["model_config"]
        assert config["magnitudes"] is True
    assert json.loads((fitted / "plain-glnet" / "metrics.json").read_text())["model_config"]["magnitudes"] is False


def test_low_rank_only_fits_a_dora_zoo_without_its_magnitudes(fitted, tmp_path, capsys):
    out = tmp_path / "ablation"
    assert main(["fit", "--zoo", str(fitted / "dora.parquet"), "--task", "regression", "--target", "mean_magnitude",
                 "--model", "svd", "--out", str(out), "--epochs", "1", "--low-rank-only"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model_config"]["magnitudes"] is False and metrics["settings"]["low_rank_only"] is True
    assert main(["fit", "--zoo", str(fitted / "plain.parquet"), "--task", "regression", "--target", "mean_magnitude",
                 "--model", "svd", "--out", str(tmp_path / "no"), "--low-rank-only"]) == 2
    assert "holds plain LoRAs, with no DoRA magnitudes to ignore" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_dora_adapter_scores_as_its_zoo_row(fitted, tmp_path, predict_jsonl, kind):
    index = 7
    path = write_peft(dora_lora(index), tmp_path / "adapter")
    code, (line,), _ = predict_jsonl("--model", fitted / kind, path)
    assert code == 0 and line["notices"] == []
    predictions = pd.read_parquet(fitted / kind / "predictions.parquet").set_index("lora_id")
    assert line["prediction"] == pytest.approx(predictions.loc[f"dora-{index:03d}", "prediction"], rel=1e-5, abs=1e-6)


def test_a_dora_model_refuses_a_plain_lora_and_scores_the_rest(fitted, tmp_path, predict_jsonl):
    plain = write_peft(dora_lora(3).without_magnitudes(), tmp_path / "plain")
    dora = write_peft(dora_lora(3), tmp_path / "dora")
    code, lines, err = predict_jsonl("--model", fitted / "glnet", plain, dora)
    assert code == 1 and [line["path"] for line in lines] == [str(dora)]
    assert f"refused {plain}: a plain LoRA, but the glnet model was trained on DoRA adapters" in err


def test_a_plain_model_scores_the_low_rank_part_with_a_notice(fitted, tmp_path, predict_jsonl):
    dora = write_peft(dora_lora(5), tmp_path / "dora")
    plain = write_peft(dora_lora(5).without_magnitudes(), tmp_path / "plain")
    code, (from_dora, from_plain), err = predict_jsonl("--model", fitted / "plain-glnet", dora, plain)
    assert code == 0 and from_dora["prediction"] == from_plain["prediction"]
    assert from_dora["notices"] == ["a DoRA adapter: scored its low-rank part only (the glnet model was trained "
                                    "on plain LoRAs; its magnitude vectors are not read)"]
    assert from_plain["notices"] == [] and "DoRA adapter: scored its low-rank part only" in err
