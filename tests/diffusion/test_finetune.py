"""`lolzoo finetune-diffusion`: a shard of deterministic DreamBooth LoRAs in diffusers' format with their alpha,
each the LoRA it would be if trained alone."""

import json
import math
import re

import pytest
import torch

from lolzoo.cli import main
from lolzoo.lora import read_lora

from .conftest import SUBJECTS, ZOO, as_arg, recipe, shard_job

ATTENTION_QV = re.compile(r"\.attn[12]\.to_[qv]$")
# a shard that mixes learning rates, step counts, accumulation, batch sizes and ranks
MIXED = [recipe("celeba-00003"),
         recipe("celeba-00004", learning_rate=3e-3, max_train_steps=3, gradient_accumulation_steps=2,
                train_batch_size=2, rank=2, lora_alpha=2),
         recipe("celeba-00005", learning_rate=1e-4, max_train_steps=1)]


def finetune(job, bases, data, out):
    argv = ["finetune-diffusion", "--job", as_arg(job), "--base", str(bases[0]), "--data", str(data), "--out", str(out)]
    return main(argv)


@pytest.fixture(scope="module")
def trained(bases, data, tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    for name in ("a", "b"):
        assert finetune(shard_job(*MIXED), bases, data, root / name) == 0
    return root


def test_same_shard_gives_the_same_bytes(trained):
    for lora_id in SUBJECTS:
        first = (trained / "a" / lora_id / "pytorch_lora_weights.safetensors").read_bytes()
        assert first == (trained / "b" / lora_id / "pytorch_lora_weights.safetensors").read_bytes()


def test_out_has_one_folder_per_lora_and_the_shard_timings(trained):
    out = trained / "a"
    assert sorted(p.name for p in out.iterdir()) == sorted([*SUBJECTS, "shard.json"])
    for lora_id in SUBJECTS:
        assert sorted(p.name for p in (out / lora_id).iterdir()) == ["pytorch_lora_weights.safetensors", "train.json"]
    shard = json.loads((out / "shard.json").read_text())
    assert shard["loras"] == 3 and shard["samples"] == 2 * 1 + 3 * 2 * 2 + 1 * 1 and shard["samples_per_second"] > 0
    seconds = shard["seconds"]
    assert set(seconds) == {"import_and_load", "training", "training_steps", "writing", "total"}
    assert all(v > 0 for v in seconds.values()) and seconds["training_steps"] <= seconds["training"]
    shares = [json.loads((out / i / "train.json").read_text())["seconds"]["total"] for i in SUBJECTS]
    assert sum(shares) == pytest.approx(seconds["import_and_load"] + seconds["training"] + seconds["writing"])


def test_train_json_has_the_recipe_and_one_finite_loss_per_optimiser_step(trained):
    for row in MIXED:
        log = json.loads((trained / "a" / row["lora_id"] / "train.json").read_text())
        assert log["lora_id"] == row["lora_id"] and log["recipe"] == row and log["device"] == "cpu"
        assert log["images"] == 6 and len(log["losses"]) == row["max_train_steps"]
        assert all(math.isfinite(x) and x > 0 for x in log["losses"]) and log["seconds"]["training"] > 0


def test_loras_read_back_with_their_rank_alpha_and_every_attention_q_v(trained, bases):
    from lolzoo.bases.tiny_sd import load_tiny_sd

    expected = sorted(name for name, _ in load_tiny_sd(bases[0]).unet.named_modules() if ATTENTION_QV.search(name))
    assert len(expected) > 0
    for row in MIXED:
        lora = read_lora(trained / "a" / row["lora_id"])
        assert sorted(m.path for m in lora.modules) == expected and {m.component for m in lora.modules} == {"unet"}
        assert {m.rank for m in lora.modules} == {row["rank"]} and {m.alpha for m in lora.modules} == {row["lora_alpha"]}
        assert all(m.U.abs().sum() > 0 for m in lora.modules), "B must move away from its zero init"
    firsts = [read_lora(trained / "a" / row["lora_id"]).modules[0].V for row in MIXED[::2]]
    assert not torch.equal(*firsts), "another seed gives another LoRA"


def test_each_lora_of_a_mixed_shard_is_the_lora_trained_alone(trained, bases, data, tmp_path):
    """Different learning rates, steps, accumulation, batch sizes and ranks: a shard of one gives the same factors."""
    for row in MIXED:
        assert finetune(shard_job(row), bases, data, tmp_path / row["lora_id"]) == 0
        alone = read_lora(tmp_path / row["lora_id"] / row["lora_id"])
        in_shard = read_lora(trained / "a" / row["lora_id"])
        assert [m.path for m in alone.modules] == [m.path for m in in_shard.modules]
        # float32: a batch of another size rounds differently, and Adam's g/√v turns a rounding-level
        # gradient into up to ~lr of a step; 1e-5 is 1% of one step at lr 1e-3 (seen: 4e-6). float64 below.
        for a, b in zip(alone.modules, in_shard.modules):
            torch.testing.assert_close(b.U, a.U, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(b.V, a.V, rtol=1e-4, atol=1e-5)
        log_alone = json.loads((tmp_path / row["lora_id"] / row["lora_id"] / "train.json").read_text())
        log_shard = json.loads((trained / "a" / row["lora_id"] / "train.json").read_text())
        assert log_shard["losses"] == pytest.approx(log_alone["losses"], rel=1e-4)


def test_batch_stream_visits_every_image_once_per_pass():
    from lolzoo.diffusion.finetune import BatchStream

    stream = BatchStream(5, 2, torch.Generator().manual_seed(0))
    drawn = [i for _ in range(5) for i in stream.next().tolist()]
    assert sorted(drawn) == sorted(list(range(5)) * 2)


def test_training_settings_are_one_per_recipe_in_order():
    from lolzoo.diffusion.job import parse_job, training_settings

    settings = training_settings(parse_job(as_arg(shard_job(*MIXED))))
    assert [s.lora_id for s in settings] == [r["lora_id"] for r in MIXED]
    assert [s.gradient_accumulation_steps for s in settings] == [1, 2, 1] and settings[1].rank == 2


@pytest.mark.parametrize("job, message", [
    ("not json", "not JSON"),
    ('{"recipe": {}, "zoo": {}}', '"recipes"'),
    (json.dumps({"zoo": ZOO, "recipes": []}), "non-empty list"),
    (json.dumps({"zoo": ZOO, "recipes": [recipe(), 3]}), "recipes[1] is not"),
    (as_arg(shard_job(recipe(), recipe(seed=9))), "celeba-00003' appears more than once"),
    (json.dumps({"zoo": {**ZOO, "type": "arc-sources"}, "recipes": [recipe()]}), "zoo.type"),
    (as_arg(shard_job(recipe(), recipe("celeba-00004", learning_rate="fast"))), "recipes[1].learning_rate"),
    (as_arg(shard_job(recipe(max_train_steps=0))), "recipes[0].max_train_steps"),
    (as_arg(shard_job({k: v for k, v in recipe().items() if k != "seed"})), "recipes[0].seed"),
])
def test_malformed_job_is_one_line_exit_2(job, message, bases, data, tmp_path, capsys):
    argv = ["finetune-diffusion", "--job", job, "--base", str(bases[0]), "--data", str(data), "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and not (tmp_path / "x").exists()


def test_missing_data_subfolder_is_one_line_naming_the_lora(bases, data, tmp_path, capsys):
    job = shard_job(recipe(), recipe("celeba-00099"))
    assert finetune(job, bases, data, tmp_path / "x") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "celeba-00099" in err and not (tmp_path / "x").exists()


def test_base_without_the_target_modules_is_one_line_and_writes_nothing(bases, data, tmp_path, capsys):
    job = {"zoo": {**ZOO, "lora": {**ZOO["lora"], "target_modules": ["to_nothing"]}}, "recipes": [recipe()]}
    assert finetune(job, bases, data, tmp_path / "x") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "to_nothing" in err and not (tmp_path / "x").exists()


def test_canonical_header_makes_metadata_order_irrelevant(tmp_path):
    from safetensors.torch import load_file, save_file

    from lolzoo.diffusion.lora_file import canonicalize_safetensors_header

    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    for name, metadata in (("a", {"format": "pt", "x": "1"}), ("b", {"x": "1", "format": "pt"})):
        save_file(tensors, str(tmp_path / name), metadata=metadata)
        canonicalize_safetensors_header(tmp_path / name)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert torch.equal(load_file(str(tmp_path / "a"))["w"], tensors["w"])


def test_in_float64_a_mixed_shard_matches_each_lora_alone_to_tight_tolerance(bases, data):
    """The same property without float32 rounding, which Adam's g/√v can magnify where a gradient is ~0."""
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.finetune import finetune_shard
    from lolzoo.diffusion.images import load_images
    from lolzoo.diffusion.job import training_settings

    settings = training_settings(shard_job(*MIXED))
    images = [load_images(data / s.lora_id, 32).double() for s in settings]
    pipeline = load_tiny_sd(bases[0]).to(torch.float64)
    shard = finetune_shard(pipeline, images, settings, torch.device("cpu"))
    for k, setting in enumerate(settings):
        alone = finetune_shard(pipeline, images[k:k + 1], [setting], torch.device("cpu")).results[0]
        assert alone.losses == pytest.approx(shard.results[k].losses, rel=1e-9)
        for a, b in zip(alone.lora.modules, shard.results[k].lora.modules):
            assert a.U.dtype == torch.float32 and a.U.abs().sum() > 0  # written as float32 all the same
            torch.testing.assert_close(b.U, a.U, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(b.V, a.V, rtol=1e-4, atol=1e-6)
