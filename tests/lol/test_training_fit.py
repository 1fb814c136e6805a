"""fit(): data preparation, determinism, best-epoch restore, timings; on a small invariant test model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lolzoo.lol.data import zoo_data
from lolzoo.lol.tasks import TaskError
from lolzoo.lol.train import TrainingError, fit, predict_outputs, split_hparams
from lolzoo.synthetic.generator import SyntheticZooSpec
from lolzoo.zoo import load_zoo
from lolzoo.zoo.synthetic_zoo import write_synthetic_zoo
from lol_training_helpers import build_gram_model

FAST = {"epochs": 4, "batch_size": 16, "lr": 3e-3}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    path = tmp_path_factory.mktemp("zoo") / "synthetic.parquet"
    write_synthetic_zoo(path, SyntheticZooSpec(count=160, seed=3, ranks=(2, 4), reparametrise=True))
    return load_zoo(path)


def gram_fit(zoo, task="regression", targets=("frob_norm_total",), seed=0, **hparams):
    return fit("gram-test", zoo, task, list(targets), seed, {**FAST, **hparams}, build_model=build_gram_model)


def test_zoo_data_drops_missing_targets(zoo):
    table = zoo.table.copy()
    table.loc[[3, 5], "nuclear_norm"] = np.nan
    holey = type(zoo)(**{**zoo.__dict__, "table": table})
    data = zoo_data(holey, "regression", ["frob_norm_total", "nuclear_norm"])
    assert data.dropped == 2 and data.labels.shape == (158, 2) and data.labels.dtype == np.float64
    assert data.batch.size == 160 and data.batch.U[0].dtype == torch.float32 and data.batch.rank == 4
    with pytest.raises(TaskError, match="no target column.*'nope'"):
        zoo_data(zoo, "regression", ["nope"])


def test_fit_is_deterministic_for_a_seed(zoo):
    a, b = gram_fit(zoo, seed=7), gram_fit(zoo, seed=7)
    assert torch.equal(a.outputs, b.outputs)
    assert a.history == b.history and a.best_epoch == b.best_epoch
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    assert not torch.equal(gram_fit(zoo, seed=8).outputs, a.outputs)


def test_fit_learns_an_invariant_target_and_reports_everything(zoo):
    result = gram_fit(zoo, epochs=30, lr=1e-2)
    assert result.metrics["test"]["r2"] > 0.9  # log ||ΔW||² per module determines the target
    assert set(result.metrics) == {"train", "val", "test"}
    assert result.sizes["train"] + result.sizes["val"] + result.sizes["test"] == 160
    assert result.sizes["features_cached"] is True
    assert set(result.splits) == {"train", "val", "test"} and len(result.splits) == 160
    assert result.outputs.shape == (160, 1)
    assert all(result.timings[k] > 0 for k in ("preprocess_s", "train_s", "predict_s_per_lora"))
    # fitted preprocessing saw the training split only
    train_rows = torch.from_numpy(result.splits == "train")
    raw = result.model._raw(zoo_data(zoo, "regression", ["frob_norm_total"]).batch.take(train_rows))
    assert torch.allclose(result.model.feature_mean, raw.mean(0))


def test_best_epoch_weights_are_restored(zoo):
    # a large lr makes the validation loss jump around, so the best epoch is not the last
    result = gram_fit(zoo, epochs=8, lr=0.3, seed=1)
    val_losses = [h["val_loss"] for h in result.history]
    assert result.best_epoch == int(np.nanargmin(val_losses)) + 1
    assert result.best_epoch < len(val_losses)
    assert result.metrics["val"]["loss"] == pytest.approx(min(val_losses), rel=1e-5)


def test_features_preprocessed_per_batch_when_over_budget(zoo, monkeypatch):
    from lolzoo.lol import train
    cached = gram_fit(zoo, seed=2)
    monkeypatch.setattr(train, "CACHE_BUDGET_BYTES", 0)
    streamed = gram_fit(zoo, seed=2)
    assert streamed.sizes["features_cached"] is False
    torch.testing.assert_close(streamed.outputs, cached.outputs)


def test_multilabel_and_multiclass_fit(zoo):
    multilabel = gram_fit(zoo, "multilabel", ["positive_functional_0", "positive_functional_1"])
    assert set(multilabel.metrics["test"]["per_target"]) == {"positive_functional_0", "positive_functional_1"}
    assert 0 <= multilabel.metrics["test"]["accuracy"] <= 1
    multiclass = gram_fit(zoo, "multiclass", ["dominant_module"], epochs=20, lr=1e-2)
    assert multiclass.task.classes == [0, 1, 2] and multiclass.outputs.shape == (160, 3)
    assert multiclass.metrics["test"]["accuracy"] > 0.6  # chance is 1/3; per-module norms decide the class


def test_settings_are_checked(zoo):
    settings, model_hparams = split_hparams({"lr": 0.1, "hidden": 8})
    assert settings.lr == 0.1 and settings.epochs == 60 and model_hparams == {"hidden": 8}
    with pytest.raises(TrainingError, match="batch_size"):
        split_hparams({"batch_size": 0})
    with pytest.raises(TrainingError, match="never finite"):
        gram_fit(zoo, lr=1e30, epochs=2)


def test_predict_outputs_batches_agree_with_one_forward(zoo):
    result = gram_fit(zoo)
    batch = zoo_data(zoo, "regression", ["frob_norm_total"]).batch
    with torch.no_grad():
        torch.testing.assert_close(predict_outputs(result.model, batch, batch_size=7), result.model(batch))
    assert math.isfinite(result.metrics["train"]["kendall_tau"])
