"""build_model / model_from_config: every kind, defaults, round trips, clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from lolzoo.lol.registry import MODEL_KINDS, build_model, default_hparams, model_from_config

from lol_model_helpers import RANK, SHAPES, fitted_model, random_lora_batch


def test_the_five_kinds():
    assert MODEL_KINDS == ("mlp", "o-align", "svd", "dense", "glnet")
    for kind in MODEL_KINDS:
        model = build_model(kind, SHAPES, RANK, 3)
        assert model.kind == kind
        assert model.config()["hparams"] == default_hparams(kind)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_config_round_trip_gives_the_same_outputs(kind):
    hparams = {"hidden": [8, 6], "dropout": 0.1}
    if kind == "glnet":
        hparams |= {"equivariant_hidden": 5, "layers": 3, "gate": "step", "head": "module-mean"}
    model = fitted_model(kind, **hparams)
    config = json.loads(json.dumps(model.config()))  # JSON-able, and nothing lost through JSON
    rebuilt = model_from_config(config).double()
    rebuilt.load_state_dict(model.state_dict())  # fitted preprocessing comes back with the weights
    rebuilt.eval()
    assert rebuilt.config() == model.config()
    batch = random_lora_batch(6)
    with torch.no_grad():
        assert torch.equal(rebuilt(batch), model(batch))


def test_unfitted_models_say_so():
    for kind in MODEL_KINDS:
        with pytest.raises(RuntimeError, match="call fit_preprocessing"):
            build_model(kind, SHAPES, RANK, 1)(random_lora_batch(2, dtype=torch.float32))


def test_unknown_kind_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown LoL model kind 'gl-net'; valid: \['mlp', 'o-align', 'svd', 'dense', 'glnet'\]"):
        build_model("gl-net", SHAPES, RANK, 1)


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_unknown_hparam_lists_the_valid_ones(kind):
    valid = sorted(default_hparams(kind))
    with pytest.raises(ValueError, match=rf"unknown hyperparameter\(s\) \['width'\] for model kind '{kind}'; valid: "
                                         + repr(valid).replace("[", r"\[").replace("]", r"\]")):
        build_model(kind, SHAPES, RANK, 1, width=3)


@pytest.mark.parametrize("hparams, message", [
    ({"gate": "relu"}, "unknown GL-net gate 'relu'"),
    ({"head": "sum"}, "unknown GL-net head 'sum'"),
    ({"layers": 0}, "layers must be a positive int"),
    ({"equivariant_hidden": 2.5}, "equivariant_hidden must be a positive int"),
    ({"hidden": 64}, "hidden is a list of layer widths"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
])
def test_bad_glnet_values(hparams, message):
    with pytest.raises(ValueError, match=message):
        build_model("glnet", SHAPES, RANK, 1, **hparams)


def test_bad_arguments_and_configs():
    with pytest.raises(ValueError, match="pair of positive ints"):
        build_model("svd", [(3, 0)], RANK, 1)
    with pytest.raises(ValueError, match="at least one module"):
        build_model("svd", [], RANK, 1)
    with pytest.raises(ValueError, match="rank must be a positive int"):
        build_model("dense", SHAPES, 0, 1)
    with pytest.raises(ValueError, match=r"missing \['out_dim'\], unknown \['seed'\]"):
        model_from_config({"kind": "mlp", "shapes": SHAPES, "rank": RANK, "seed": 1})


def test_default_hparams_are_copies():
    default_hparams("glnet")["hidden"].append(1)
    assert default_hparams("glnet")["hidden"] == [64]
