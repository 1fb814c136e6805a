"""`lolzoo finetune-diffusion`: a deterministic DreamBooth LoRA in diffusers' format with its alpha."""

import json
import math
import re

import pytest
import torch

from lolzoo.cli import main
from lolzoo.lora import read_lora

from .conftest import as_arg, diffusion_job

ATTENTION_QV = re.compile(r"\.attn[12]\.to_[qv]$")


def finetune(job, bases, data, out, log=None):
    argv = ["finetune-diffusion", "--job", as_arg(job), "--base", str(bases[0]), "--data", str(data), "--out", str(out)]
    return main(argv + (["--log-json", str(log)] if log else []))


@pytest.fixture(scope="module")
def trained(bases, data, tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune")
    for name in ("a", "b"):
        assert finetune(diffusion_job(), bases, data, root / name, root / f"{name}.json") == 0
    return root


def test_same_recipe_gives_the_same_bytes(trained):
    first = (trained / "a" / "pytorch_lora_weights.safetensors").read_bytes()
    assert first == (trained / "b" / "pytorch_lora_weights.safetensors").read_bytes()


def test_lora_reads_back_with_rank_alpha_and_every_attention_q_v(trained, bases):
    from lolzoo.bases.tiny_sd import load_tiny_sd

    lora = read_lora(trained / "a")
    expected = sorted(name for name, _ in load_tiny_sd(bases[0]).unet.named_modules() if ATTENTION_QV.search(name))
    assert sorted(m.path for m in lora.modules) == expected and len(expected) > 0
    assert {m.component for m in lora.modules} == {"unet"}
    assert {m.rank for m in lora.modules} == {4} and {m.alpha for m in lora.modules} == {27}
    assert all(m.U.abs().sum() > 0 for m in lora.modules), "B must move away from its zero init"


def test_log_has_the_recipe_and_one_finite_loss_per_step(trained):
    log = json.loads((trained / "a.json").read_text())
    assert log["recipe"] == diffusion_job()["recipe"] and log["device"] == "cpu"
    assert len(log["losses"]) == 2 and all(math.isfinite(x) and x > 0 for x in log["losses"])
    assert log["seconds"]["training"] > 0 and len(log["seconds"]["per_step"]) == 2


def test_another_seed_gives_another_lora(bases, data, trained, tmp_path):
    assert finetune(diffusion_job(seed=6), bases, data, tmp_path / "c") == 0
    other, first = read_lora(tmp_path / "c"), read_lora(trained / "a")
    assert not torch.equal(other.modules[0].V, first.modules[0].V)


def test_batches_and_accumulation_train_every_step(bases, data, tmp_path):
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.finetune import finetune as train
    from lolzoo.diffusion.images import load_images
    from lolzoo.diffusion.job import training_settings

    settings = training_settings(diffusion_job(train_batch_size=4, gradient_accumulation_steps=2, max_train_steps=1))
    result = train(load_tiny_sd(bases[0]), load_images(data, 32), settings, torch.device("cpu"))
    assert len(result.losses) == 1 and all(m.U.abs().sum() > 0 for m in result.lora.modules)


def test_batch_stream_visits_every_image_once_per_pass():
    from lolzoo.diffusion.finetune import BatchStream

    stream = BatchStream(5, 2, torch.Generator().manual_seed(0))
    drawn = [i for _ in range(5) for i in stream.next().tolist()]
    assert sorted(drawn) == sorted(list(range(5)) * 2)


@pytest.mark.parametrize("job, message", [
    ("not json", "not JSON"),
    ('{"recipe": {}}', "recipe"),
    (json.dumps({**diffusion_job(), "zoo": {**diffusion_job()["zoo"], "type": "arc-sources"}}), "zoo.type"),
    (as_arg(diffusion_job(learning_rate="fast")), "recipe.learning_rate"),
    (as_arg(diffusion_job(max_train_steps=0)), "recipe.max_train_steps"),
    (json.dumps({"recipe": {k: v for k, v in diffusion_job()["recipe"].items() if k != "seed"},
                 "zoo": diffusion_job()["zoo"]}), "recipe.seed"),
])
def test_malformed_job_is_one_line_exit_2(job, message, bases, data, tmp_path, capsys):
    argv = ["finetune-diffusion", "--job", job, "--base", str(bases[0]), "--data", str(data), "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and not (tmp_path / "x").exists()


def test_missing_data_folder_is_one_line(bases, tmp_path, capsys):
    assert finetune(diffusion_job(), bases, tmp_path / "nowhere", tmp_path / "x") == 2
    assert "\n" not in capsys.readouterr().err.strip()


def test_canonical_header_makes_metadata_order_irrelevant(tmp_path):
    from safetensors.torch import load_file, save_file

    from lolzoo.diffusion.lora_file import canonicalize_safetensors_header

    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    for name, metadata in (("a", {"format": "pt", "x": "1"}), ("b", {"x": "1", "format": "pt"})):
        save_file(tensors, str(tmp_path / name), metadata=metadata)
        canonicalize_safetensors_header(tmp_path / name)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()
    assert torch.equal(load_file(str(tmp_path / "a"))["w"], tensors["w"])
