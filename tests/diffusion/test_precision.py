"""The zoo's `precision` in the diffusion finetuner and evaluator (on the CPU's tiny bases): fp32 is
the training without the key, byte for byte; bf16 and fp16 train float32 LoRAs close to it; fp16
scales each LoRA's loss on its own (BatchedGradScaler); a bad value is one line naming the key."""

import json

import pytest
import torch

from lolzoo.cli import main
from lolzoo.diffusion.batched_lora import BatchedGradScaler
from lolzoo.lora import read_lora

from .conftest import ZOO, as_arg, recipe, shard_job

WEIGHTS = "pytorch_lora_weights.safetensors"
ROW = recipe("celeba-00003", learning_rate=3e-3)


def precision_job(precision=None, *rows) -> dict:
    job = shard_job(*(rows or [ROW]))
    if precision is not None:
        job["zoo"] = {**ZOO, "precision": precision}
    return job


def finetune(job, bases, data, out):
    return main(["finetune-diffusion", "--job", as_arg(job), "--base", str(bases[0]), "--data", str(data),
                 "--out", str(out)])


@pytest.fixture(scope="module")
def trained(bases, data, tmp_path_factory):
    """One LoRA trained without the key, and with precision fp32, bf16 and fp16."""
    root = tmp_path_factory.mktemp("precision")
    for name, precision in (("none", None), ("fp32", "fp32"), ("bf16", "bf16"), ("fp16", "fp16")):
        assert finetune(precision_job(precision), bases, data, root / name) == 0
    return root


def test_fp32_is_the_training_without_the_key_byte_for_byte(trained):
    lora_id = ROW["lora_id"]
    assert (trained / "fp32" / lora_id / WEIGHTS).read_bytes() == (trained / "none" / lora_id / WEIGHTS).read_bytes()
    without = json.loads((trained / "none" / lora_id / "train.json").read_text())
    with_key = json.loads((trained / "fp32" / lora_id / "train.json").read_text())
    assert without["losses"] == with_key["losses"] and without["precision"] == with_key["precision"] == "fp32"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_trains_a_float32_lora_near_the_fp32_one(trained, precision):
    from safetensors.torch import load_file

    lora_id = ROW["lora_id"]
    tensors = load_file(str(trained / precision / lora_id / WEIGHTS))
    assert tensors and {t.dtype for t in tensors.values()} == {torch.float32}
    half, full = read_lora(trained / precision / lora_id), read_lora(trained / "fp32" / lora_id)
    assert all(m.U.abs().sum() > 0 for m in half.modules), "B must move away from its zero init"
    record = json.loads((trained / precision / lora_id / "train.json").read_text())
    assert record["precision"] == precision and record["skipped_steps"] == 0
    assert json.loads((trained / precision / "shard.json").read_text())["precision"] == precision
    # the same draws, the same init: the half-precision LoRA differs from the fp32 one by rounding
    # (bf16 keeps 8 bits, fp16 11), not by being another LoRA. Adam's first steps move each entry
    # by about ±lr whatever its gradient's size, so a rounding that flips a tiny gradient's sign
    # moves that entry the other way: ΔW points the same way (seen: cosine ≥ 0.96), not equal
    assert not all(torch.equal(a.U, b.U) for a, b in zip(half.modules, full.modules))
    for a, b in zip(half.modules, full.modules):
        cosine = torch.nn.functional.cosine_similarity((a.U @ a.V.T).flatten(), (b.U @ b.V.T).flatten(), 0)
        assert cosine > 0.9, a.path
        assert (a.U.sign() == b.U.sign()).float().mean() > 0.9, a.path
    assert record["losses"] == pytest.approx(
        json.loads((trained / "fp32" / lora_id / "train.json").read_text())["losses"], rel=0.05)


def test_fp16_on_a_cpu_says_it_is_slow_in_the_log(bases, data, tmp_path, capsys):
    assert finetune(precision_job("fp16", recipe("celeba-00004", max_train_steps=1)), bases, data, tmp_path / "o") == 0
    assert "(zoos.<zoo>.precision) is fp16 on a CPU" in capsys.readouterr().out


def test_an_unknown_precision_is_one_line_naming_the_key_before_any_model_loads(bases, data, tmp_path, capsys):
    assert finetune(precision_job("fp8"), bases, data, tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "zoo.precision = 'fp8'" in err and "zoos.<zoo>.precision" in err
    assert not (tmp_path / "o").exists()


def test_bf16_evaluation_labels_close_to_fp32(bases, trained, data, tmp_path):
    """The evaluation samples in the zoo's precision (the pipeline cast, the LoRA in float32)."""
    lora_id = ROW["lora_id"]
    scores = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        argv = ["evaluate-diffusion", "--job", as_arg(precision_job(precision)), "--base", str(bases[0]),
                "--clip", str(bases[1]), "--loras", str(trained / "fp32"), "--data", str(data), "--out", str(out)]
        assert main(argv) == 0
        scores[precision] = json.loads((out / f"{lora_id}.json").read_text())["clip_score"]
    assert scores["bf16"] != scores["fp32"] and scores["bf16"] == pytest.approx(scores["fp32"], abs=3.0)


def test_the_grad_scaler_skips_and_backs_off_only_the_lora_that_overflowed():
    """GradScaler's rule, per LoRA: an inf in LoRA 1's gradient skips LoRA 1 alone and halves its scale."""
    factors = [torch.nn.Parameter(torch.zeros(3, 2, 4)), torch.nn.Parameter(torch.zeros(3, 5, 2))]
    scaler = BatchedGradScaler(3, "cpu", init_scale=8.0, growth_interval=2)
    for p in factors:
        p.grad = torch.full_like(p, 8.0)
    factors[1].grad[1, 0, 0] = float("inf")
    loras = torch.tensor([0, 1])  # LoRA 2 is not stepping now
    finite = scaler.unscale_(factors, loras)
    assert finite.tolist() == [True, False]
    assert torch.equal(factors[0].grad[0], torch.ones(2, 4)) and torch.equal(factors[0].grad[2], torch.full((2, 4), 8.0))
    scaler.update(loras, finite)
    assert scaler.scales.tolist() == [8.0, 4.0, 8.0]
    scaler.update(torch.tensor([0]), torch.tensor([True]))  # two finite steps in a row: LoRA 0's scale grows
    assert scaler.scales.tolist() == [16.0, 4.0, 8.0] and scaler.growth_tracker.tolist() == [0, 0, 0]


def test_fp16_skips_the_steps_whose_gradient_overflows_and_counts_them(bases, data, tmp_path, monkeypatch):
    """A loss scale so large that every fp16 backward overflows: each step is skipped, B stays at its zero init."""
    import functools

    from lolzoo.diffusion import finetune as finetune_module

    monkeypatch.setattr(finetune_module, "BatchedGradScaler",
                        functools.partial(BatchedGradScaler, init_scale=2.0 ** 100))
    assert finetune(precision_job("fp16"), bases, data, tmp_path / "o") == 0
    record = json.loads((tmp_path / "o" / ROW["lora_id"] / "train.json").read_text())
    assert record["skipped_steps"] == ROW["max_train_steps"] == len(record["losses"])
    assert all(m.U.abs().sum() == 0 for m in read_lora(tmp_path / "o" / ROW["lora_id"]).modules)
