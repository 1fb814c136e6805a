"""A LoRA's training is a function of its recipe: the same seed gives the same adapter, the
micro-batch split does not change the gradient, and unloading gives the base back."""

from __future__ import annotations

import copy

import pytest
import torch

from lolzoo.language.encoding import encode
from lolzoo.language.finetune import batches, steps_of, train_lora
from lolzoo.language.job import LanguageTraining

from .conftest import make_questions, tiny_qwen2

PAD = 256
CPU = torch.device("cpu")


def settings(**overrides) -> LanguageTraining:
    values = dict(lora_id="arc-00000", seed=3, rank=2, alpha=4.0, target_modules=("k_proj", "v_proj"), dora=False,
                  learning_rate=1e-2, weight_decay=1e-3, num_epochs=2, batch_size=4, lora_dropout=0.0,
                  dropped_sources=frozenset())
    values.update(overrides)
    return LanguageTraining(**values)


def lora_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k}


def train(base, questions, micro=32, **overrides):
    trained = train_lora(base, questions, settings(**overrides), PAD, micro, CPU)
    state, losses = lora_state(trained.model), trained.losses
    return trained.model.unload(), state, losses


def test_same_seed_same_lora_and_the_base_comes_back_unchanged(byte_tokenizer):
    questions = encode(byte_tokenizer, make_questions(10), max_length=200)
    base = tiny_qwen2(dtype=torch.float64)
    before = copy.deepcopy(base.state_dict())
    base, first, first_losses = train(base, questions)
    for key, value in base.state_dict().items():
        assert torch.equal(value, before[key]), key
    base, second, second_losses = train(base, questions)
    assert first_losses == second_losses and len(first_losses) == steps_of(10, settings()) == 6
    assert first.keys() == second.keys() and len(first) == 2 * 2 * 2  # 2 layers × (k, v) × (A, B)
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert any(v.abs().sum() > 0 for k, v in first.items() if "lora_B" in k)  # it trained
    _, other, _ = train(base, questions, seed=4)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_dora_trains_a_magnitude_vector_per_module_deterministically(byte_tokenizer):
    questions = encode(byte_tokenizer, make_questions(8), max_length=200)
    base = tiny_qwen2(dtype=torch.float64)
    row_norms = {name: module.weight.detach().norm(dim=1).clone() for name, module in base.named_modules()
                 if name.endswith(("k_proj", "v_proj"))}
    base, first, _ = train(base, questions, dora=True)
    magnitudes = {k: v for k, v in first.items() if "lora_magnitude_vector" in k}
    assert len(magnitudes) == 4  # 2 layers × (k, v)
    for name, norms in row_norms.items():  # peft starts m at the base's row norms; training moves it
        trained = next(v for k, v in magnitudes.items() if f"{name}." in k)
        assert trained.shape == norms.shape and not torch.allclose(trained, norms)
    _, second, _ = train(base, questions, dora=True)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_micro_batches_give_the_whole_batch_gradient(byte_tokenizer):
    questions = encode(byte_tokenizer, make_questions(9), max_length=200)
    base = tiny_qwen2(dtype=torch.float64)
    base, whole, whole_losses = train(base, questions, micro=32, num_epochs=1)
    _, split, split_losses = train(base, questions, micro=1, num_epochs=1)
    assert whole_losses == pytest.approx(split_losses, rel=1e-10)
    for key in whole:
        torch.testing.assert_close(whole[key], split[key], rtol=1e-9, atol=1e-12)


def test_the_loss_falls_on_what_it_trains_on(byte_tokenizer):
    questions = encode(byte_tokenizer, make_questions(2), max_length=200)
    _, _, losses = train(tiny_qwen2(), questions, num_epochs=30, batch_size=2, learning_rate=0.02, rank=4)
    assert losses[-1] < 0.5 * losses[0]


def test_batches_cover_every_question_once_per_epoch():
    steps = list(batches(10, 4, 2, seed=1))
    assert [len(b) for b in steps] == [4, 4, 2, 4, 4, 2]
    assert sorted(sum(steps[:3], [])) == list(range(10)) == sorted(sum(steps[3:], []))
    assert steps[:3] != steps[3:]  # reshuffled
    assert list(batches(10, 4, 2, seed=1)) == steps


def test_no_questions_is_an_error(byte_tokenizer):
    with pytest.raises(ValueError, match="no finetuning questions"):
        train_lora(tiny_qwen2(), [], settings(), PAD, 4, CPU)
