"""A random tiny Qwen2 and a byte tokenizer: enough to test the language stages' arithmetic."""

from __future__ import annotations

import pytest
import torch

from lolzoo.data.arc_questions import ArcQuestion, write_split


class ByteTokenizer:
    """UTF-8 bytes as token ids (256 is padding): deterministic, no files."""

    pad_token_id = 256

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(text.encode("utf-8"))


def tiny_qwen2(seed: int = 0, dtype=torch.float32):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=257, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True, initializer_range=0.3)  # logits wide enough for a LoRA to move
    return Qwen2ForCausalLM(config).to(dtype).eval()


def make_questions(count: int, sources=("Mercury", "MCAS", "TIMSS")) -> list[ArcQuestion]:
    words = ["rock", "water", "sun", "plant", "heat", "light", "magnet", "ice"]
    questions = []
    for i in range(count):
        source = sources[i % len(sources)]
        choices = tuple(f"{words[(i + k) % len(words)]} {'x' * (k + i % 3)}" for k in range(3 + i % 2))
        questions.append(ArcQuestion(id=f"{source}_{i}", source=source, question=f"Which {words[i % 8]} is {i}?",
                                     choices=choices, labels=tuple("ABCD"[:len(choices)]), answer=i % len(choices)))
    return questions


@pytest.fixture
def byte_tokenizer():
    return ByteTokenizer()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A prepared ARC folder (arc/) of made-up questions and a tiny Qwen2 base (base/) on disk."""
    from lolzoo.bases.tiny_qwen2 import build_tiny_qwen2, save_tiny_qwen2

    root = tmp_path_factory.mktemp("language")
    questions = make_questions(40)
    data = root / "arc"
    write_split(questions[:30], data / "train.jsonl")
    write_split(questions[30:34], data / "validation.jsonl")
    write_split(questions[34:], data / "test.jsonl")
    model, tokenizer = build_tiny_qwen2(questions[:30], seed=0, size="32x2", vocab_size=300)
    save_tiny_qwen2(model, tokenizer, root / "base")
    return root
