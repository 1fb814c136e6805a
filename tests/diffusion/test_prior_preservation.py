"""DreamBooth prior preservation (the zoo's `prior_preservation`): class images made once per job by
the base, the same for every LoRA; a LoRA trained with it in a shard is the LoRA trained alone with it;
a weight of 0 is exactly no prior preservation."""

import json

import pytest
import torch

from lolzoo.cli import main
from lolzoo.lora import read_lora

from .conftest import ZOO, as_arg, recipe
from .test_finetune import MIXED, finetune

PRIOR = {"class_prompt": "a photo of a person", "num_class_images": 5, "prior_loss_weight": 0.5, "class_seed": 3,
         "steps": 2}


def prior_job(*recipes, prior=PRIOR) -> dict:
    return {"zoo": {**ZOO, "prior_preservation": prior}, "recipes": list(recipes)}


@pytest.fixture(scope="module")
def tiny(bases):
    from lolzoo.bases.tiny_sd import load_tiny_sd

    return load_tiny_sd(bases[0])


def mixed_images(data, dtype=torch.float32):
    from lolzoo.diffusion.images import load_images

    return [load_images(data / row["lora_id"], 32).to(dtype) for row in MIXED]


def test_each_lora_of_a_mixed_shard_with_prior_preservation_is_the_lora_trained_alone(bases, data, tmp_path,
                                                                                        monkeypatch):
    """The class images are made once per job, and a LoRA's result does not depend on its shard mates."""
    from lolzoo.diffusion import finetune as module

    # weight 1 (the example's default): at PRIOR's 0.5 an element of the lr-3e-3 LoRA, whose gradient
    # nearly cancels, was seen off by 2-3e-5 in float32 (Adam's g/√v again); the float64 test below takes 0.5
    prior = {**PRIOR, "prior_loss_weight": 1.0}
    calls = []
    original = module.generate_class_images
    monkeypatch.setattr(module, "generate_class_images", lambda *a, **k: calls.append(1) or original(*a, **k))
    assert finetune(prior_job(*MIXED, prior=prior), bases, data, tmp_path / "shard") == 0
    assert len(calls) == 1, "one generation for the whole shard"
    shard = json.loads((tmp_path / "shard" / "shard.json").read_text())
    assert shard["class_images"] == 5 and shard["samples"] == 2 * (2 * 1 + 3 * 2 * 2 + 1 * 1)
    for row in MIXED:
        assert finetune(prior_job(row, prior=prior), bases, data, tmp_path / row["lora_id"]) == 0
        alone = read_lora(tmp_path / row["lora_id"] / row["lora_id"])
        in_shard = read_lora(tmp_path / "shard" / row["lora_id"])
        assert [m.path for m in alone.modules] == [m.path for m in in_shard.modules]
        for a, b in zip(alone.modules, in_shard.modules):  # the tolerances of test_finetune's shard-alone test
            torch.testing.assert_close(b.U, a.U, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(b.V, a.V, rtol=1e-4, atol=1e-5)
        log_alone = json.loads((tmp_path / row["lora_id"] / row["lora_id"] / "train.json").read_text())
        log_shard = json.loads((tmp_path / "shard" / row["lora_id"] / "train.json").read_text())
        assert log_shard["losses"] == pytest.approx(log_alone["losses"], rel=1e-4)
        recorded = log_shard["prior_preservation"]
        assert {k: recorded[k] for k in prior} == prior and recorded["active"] is True
        assert recorded["guidance_scale"] == 7.5 and len(recorded["prior_losses"]) == row["max_train_steps"]
        assert recorded["prior_losses"] == pytest.approx(log_alone["prior_preservation"]["prior_losses"], rel=1e-4)
    assert len(calls) == 1 + len(MIXED)


def test_without_the_key_train_json_says_no_prior_preservation(bases, data, tmp_path):
    assert finetune({"zoo": ZOO, "recipes": [recipe()]}, bases, data, tmp_path / "x") == 0
    assert json.loads((tmp_path / "x" / "celeba-00003" / "train.json").read_text())["prior_preservation"] is None
    assert json.loads((tmp_path / "x" / "shard.json").read_text())["class_images"] == 0


def test_in_float64_a_mixed_shard_with_prior_preservation_matches_each_lora_alone(tiny, data):
    from lolzoo.diffusion.finetune import finetune_shard
    from lolzoo.diffusion.job import prior_preservation, training_settings

    settings, prior = training_settings(prior_job(*MIXED)), prior_preservation(prior_job(*MIXED))
    images = mixed_images(data, torch.float64)
    pipeline = tiny.to(torch.float64)
    try:
        shard = finetune_shard(pipeline, images, settings, torch.device("cpu"), prior=prior)
        for k, setting in enumerate(settings):
            alone = finetune_shard(pipeline, images[k:k + 1], [setting], torch.device("cpu"), prior=prior).results[0]
            assert alone.losses == pytest.approx(shard.results[k].losses, rel=1e-9)
            assert alone.prior_losses == pytest.approx(shard.results[k].prior_losses, rel=1e-9)
            for a, b in zip(alone.lora.modules, shard.results[k].lora.modules):
                torch.testing.assert_close(b.U, a.U, rtol=1e-4, atol=1e-6)
                torch.testing.assert_close(b.V, a.V, rtol=1e-4, atol=1e-6)
    finally:
        tiny.to(torch.float32)


def test_prior_loss_weight_zero_is_exactly_no_prior_preservation(tiny, data):
    """Weight 0 is off: the same bytes and losses as without the key; a weight above 0 changes the LoRAs."""
    from lolzoo.diffusion.finetune import finetune_shard
    from lolzoo.diffusion.job import PriorPreservation, prior_preservation, training_settings

    settings, images, cpu = training_settings(prior_job(*MIXED)), mixed_images(data), torch.device("cpu")
    without = finetune_shard(tiny, images, settings, cpu)
    zero = prior_preservation(prior_job(*MIXED, prior={**PRIOR, "prior_loss_weight": 0}))
    assert zero == PriorPreservation("a photo of a person", 5, 0.0, 3, 2) and not zero.active
    off = finetune_shard(tiny, images, settings, cpu, prior=zero)
    assert off.class_images is None
    weighted = finetune_shard(tiny, images, settings, cpu, prior=prior_preservation(prior_job(*MIXED)))
    for a, b, c in zip(without.results, off.results, weighted.results):
        assert a.losses == b.losses and b.prior_losses is None and a.samples == b.samples
        for m, n, w in zip(a.lora.modules, b.lora.modules, c.lora.modules):
            assert torch.equal(m.U, n.U) and torch.equal(m.V, n.V)
            assert not torch.equal(m.U, w.U)
        assert c.samples == 2 * a.samples and len(c.prior_losses) == len(c.losses)


def test_class_images_are_deterministic_by_class_seed_and_independent_of_batching(tiny):
    from lolzoo.diffusion.finetune import generate_class_images
    from lolzoo.diffusion.job import prior_preservation

    prior = prior_preservation(prior_job(recipe()))
    cpu = torch.device("cpu")
    images = generate_class_images(tiny, prior, cpu)
    assert images.shape == (5, 3, 32, 32) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    pixels = (images + 1) * 127.5
    torch.testing.assert_close(pixels, pixels.round(), rtol=0, atol=1e-4)  # 8-bit, as saved PNGs
    assert torch.equal(images, generate_class_images(tiny, prior, cpu))
    # an image is its seed's in any chunk, up to the rounding of another batch size (a pixel may move one level)
    torch.testing.assert_close(generate_class_images(tiny, prior, cpu, chunk=2), images, rtol=0, atol=1.01 / 127.5)
    other = prior_preservation(prior_job(recipe(), prior={**PRIOR, "class_seed": 4}))
    assert not torch.equal(images, generate_class_images(tiny, other, cpu))
    assert len({bytes(image.numpy()) for image in images}) == 5, "each image from its own noise"


@pytest.mark.parametrize("prior, message", [
    ("yes", "zoo.prior_preservation must be an object"),
    ({"num_class_images": 4}, "zoo.prior_preservation.class_prompt"),
    ({"class_prompt": "a person"}, "zoo.prior_preservation.num_class_images is missing"),
    ({**PRIOR, "num_class_images": 0}, "zoo.prior_preservation.num_class_images"),
    ({**PRIOR, "prior_loss_weight": -1}, "zoo.prior_preservation.prior_loss_weight"),
    ({**PRIOR, "class_seed": "x"}, "zoo.prior_preservation.class_seed"),
    ({**PRIOR, "with_prior": True}, "zoo.prior_preservation.with_prior"),
])
def test_malformed_prior_preservation_is_one_line_exit_2(prior, message, bases, data, tmp_path, capsys):
    argv = ["finetune-diffusion", "--job", as_arg(prior_job(recipe(), prior=prior)), "--base", str(bases[0]),
            "--data", str(data), "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and not (tmp_path / "x").exists()


def test_prior_preservation_defaults_and_absence():
    from lolzoo.diffusion.job import PriorPreservation, prior_preservation

    assert prior_preservation({"zoo": ZOO}) is None
    assert prior_preservation({"zoo": {**ZOO, "prior_preservation": None}}) is None
    minimal = prior_preservation(prior_job(recipe(), prior={"class_prompt": "a dog", "num_class_images": 2}))
    assert minimal == PriorPreservation("a dog", 2, 1.0, 0, 20, 7.5) and minimal.active
