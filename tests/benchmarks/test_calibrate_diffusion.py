"""The calibration sweep's arithmetic (benchmarks/calibrate_diffusion.py): how a pilot zoo's
recipe is scaled, and which images each of the two measurements of a label averages."""

import importlib.util

import numpy as np
import pytest

from tests.conftest import REPO


def sweep():
    spec = importlib.util.spec_from_file_location("calibrate_diffusion", REPO / "benchmarks" / "calibrate_diffusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("spec, factor, integer, scaled", [
    (15, 4, True, 60),
    ({"choice": [10, 13, 17, 20]}, 2.5, True, {"choice": [25, 32, 42, 50]}),
    ({"choice": [1e-4, 3e-3]}, 0.5, False, {"choice": [5e-5, 1.5e-3]}),
    ({"loguniform": [1e-4, 1e-2]}, 3, False, {"loguniform": [3e-4, 3e-2]}),
    (3, 0.1, True, 1),  # never below one step
])
def test_recipe_values_are_scaled_whatever_their_distribution(spec, factor, integer, scaled):
    got = sweep().scaled(spec, factor, integer)
    if isinstance(scaled, dict):
        assert got.keys() == scaled.keys()
        got, scaled = next(iter(got.values())), next(iter(scaled.values()))
    assert got == pytest.approx(scaled)


def test_the_pilot_zoo_scales_steps_and_learning_rates_only():
    from lolzoo.config import load_config

    config = load_config(REPO / "config" / "config.yaml", REPO)
    entry = sweep().pilot_zoo(config, "celeba", 12, steps=2, lr=0.5)
    original = config["zoos"]["celeba"]
    assert entry["count"] == 12 and entry["lora"] == original["lora"]
    assert entry["hparams"]["max_train_steps"] == {"choice": [2 * s for s in original["hparams"]["max_train_steps"]["choice"]]}
    assert entry["hparams"]["learning_rate"]["choice"] == pytest.approx(
        [lr / 2 for lr in original["hparams"]["learning_rate"]["choice"]])
    assert entry["hparams"]["instance_prompt"] == original["hparams"]["instance_prompt"]


def test_the_two_measurements_average_disjoint_images():
    scores = np.zeros((3, 4, 6))  # LoRAs, prompts, 2 × 3 images: the evaluation's, then the re-measurement's
    scores[:, :, :3] = 1.0
    scores[:, :, 3:] = 2.0
    scores[:, 2:, :] += 10.0  # prompts the label may leave out
    first, second = sweep().label(scores, prompts=2, images=2), sweep().label(scores, prompts=2, images=2, second=True)
    assert first.tolist() == [1.0] * 3 and second.tolist() == [2.0] * 3
    assert sweep().label(scores, prompts=4, images=3).tolist() == [6.0] * 3


def test_appending_keeps_earlier_points_and_replaces_one_measured_again(tmp_path):
    module = sweep()
    point = {"loras": 80, "steps_x": 1.0, "lr_x": 1.0, "sampler": "dpm-solver", "denoise_steps": 5, "prompts": 8}
    old = [{**point, "images": 1, "reliability": 0.5}, {**point, "images": 2, "reliability": 0.6}]
    new = [{**point, "images": 2, "reliability": 0.7}]
    assert module.merged(old, new) == [old[0], new[0]]
    import pandas as pd

    pd.DataFrame(old).to_csv(tmp_path / "sweep.csv", index=False)
    assert module.earlier_rows(tmp_path / "sweep.csv") == old
