"""The zoo's `precision` in the language finetuner (tiny Qwen2 on the CPU): fp32 is the training
without the key, bit for bit; bf16 and fp16 (GradScaler) train float32 LoRAs on a half-precision
base, close to the fp32 ones; a bad value is one line naming the key."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from lolzoo.cli import main
from lolzoo.language.encoding import encode
from lolzoo.language.finetune import cast_base, train_lora

from .conftest import make_questions, tiny_qwen2
from .test_cli import ZOO, recipe
from .test_finetune import CPU, PAD, lora_state, settings


def train(questions, precision=None):
    base = cast_base(tiny_qwen2(), precision or "fp32")
    options = {} if precision is None else {"precision": precision}
    trained = train_lora(base, questions, settings(), PAD, 3, CPU, **options)
    return trained, lora_state(trained.model)


@pytest.fixture(scope="module")
def runs():
    from .conftest import ByteTokenizer

    questions = encode(ByteTokenizer(), make_questions(10), max_length=200)
    return {precision: train(questions, precision) for precision in (None, "fp32", "bf16", "fp16")}


def test_fp32_is_the_training_without_the_key_bit_for_bit(runs):
    (plain, plain_state), (fp32, fp32_state) = runs[None], runs["fp32"]
    assert plain.losses == fp32.losses and plain_state.keys() == fp32_state.keys()
    assert all(torch.equal(plain_state[key], fp32_state[key]) for key in plain_state)


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_half_precision_trains_float32_loras_on_a_half_base(runs, precision, dtype):
    trained, state = runs[precision]
    _, full = runs["fp32"]
    base_weights = {p.dtype for name, p in trained.model.named_parameters() if "lora_" not in name}
    assert base_weights == {dtype}
    assert state.keys() == full.keys() and {v.dtype for v in state.values()} == {torch.float32}
    assert all(v.abs().sum() > 0 for k, v in state.items() if "lora_B" in k), "B must move away from its zero init"
    assert not all(torch.equal(state[k], full[k]) for k in state)  # another rounding...
    for key in state:  # ...of the same training (Adam's sign-like first steps: compare directions)
        cosine = torch.nn.functional.cosine_similarity(state[key].flatten(), full[key].flatten(), 0)
        assert cosine > 0.9, key
    assert trained.losses == pytest.approx(runs["fp32"][0].losses, rel=0.05) and trained.skipped_steps == 0


def test_fp16_skips_a_step_whose_gradient_overflows(monkeypatch):
    """GradScaler's skip, counted: a loss scale so large that the fp16 backward overflows."""
    from .conftest import ByteTokenizer

    real = torch.amp.GradScaler
    monkeypatch.setattr(torch.amp, "GradScaler", lambda device: real(device, init_scale=2.0 ** 60))
    questions = encode(ByteTokenizer(), make_questions(4), max_length=200)
    trained = train_lora(cast_base(tiny_qwen2(), "fp16"), questions, settings(batch_size=2, num_epochs=1),
                         PAD, 2, CPU, precision="fp16")
    assert trained.skipped_steps >= 1 and trained.steps == 2


def finetune(world, out, zoo) -> int:
    job = json.dumps({"zoo": zoo, "recipes": [recipe(0)]})
    return main(["finetune-language", "--job", job, "--base", str(world / "base"), "--data", str(world / "arc"),
                 "--out", str(out)])


def test_the_cli_trains_in_the_jobs_precision_and_records_it(world, tmp_path):
    assert finetune(world, tmp_path / "bf16", {**ZOO, "precision": "bf16"}) == 0
    record = json.loads((tmp_path / "bf16" / "arc-00000" / "train.json").read_text())
    assert record["precision"] == "bf16" and record["skipped_steps"] == 0
    assert json.loads((tmp_path / "bf16" / "shard.json").read_text())["precision"] == "bf16"
    tensors = load_file(tmp_path / "bf16" / "arc-00000" / "adapter_model.safetensors")
    assert tensors and {t.dtype for t in tensors.values()} == {torch.float32}


def test_an_unknown_precision_is_one_line_naming_the_key(world, tmp_path, capsys):
    assert finetune(world, tmp_path / "o", {**ZOO, "precision": "float16"}) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "zoo.precision = 'float16'" in err and "zoos.<zoo>.precision" in err
    assert not (tmp_path / "o").exists()
