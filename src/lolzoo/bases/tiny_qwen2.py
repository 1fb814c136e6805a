"""The default world's language base: a tiny Qwen2 causal LM with a byte-level BPE tokenizer
that we train ourselves on the ARC train split's text.

Shaped like Qwen2 where LoRAs see it: grouped-query attention (fewer key/value heads than
query heads, so k_proj and v_proj are narrower than q_proj), RMSNorm, rotary positions,
SwiGLU MLP, tied input/output embeddings. The folder written by `save_tiny_qwen2` is a plain
Hugging Face folder (config.json, model.safetensors, tokenizer.json ...): transformers'
AutoModelForCausalLM / AutoTokenizer load it offline, and so does lolzoo.bases.loading.

Everything is a pure function of (ARC train questions, seed, size): the BPE trainer is
deterministic for its input, and the weights are drawn after torch.manual_seed(seed).
"""

from __future__ import annotations

from pathlib import Path

import torch

from lolzoo.data.arc_questions import ArcQuestion, continuation, prompt

EOS = "<|endoftext|>"
VOCAB_SIZE = 1024
MAX_POSITIONS = 512  # the longest ARC question with an answer is ~300 tokens
# Candidate sizes, named width x layers (benchmarks/lm_base_sizes.py measures their cost per
# LoRA). Every one has two key/value heads for more query heads, as Qwen2 has.
SIZES = {
    "32x2": {"hidden_size": 32, "intermediate_size": 96, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2},
    "48x2": {"hidden_size": 48, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2},
    "64x2": {"hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2},
    "96x3": {"hidden_size": 96, "intermediate_size": 256, "num_hidden_layers": 3,
             "num_attention_heads": 6, "num_key_value_heads": 2},
}
DEFAULT_SIZE = "32x2"  # the cheapest per LoRA that clearly learns the text (benchmarks/lm_base_sizes.py)


def answered(question: ArcQuestion) -> str:
    """The question in the shared prompt format, followed by its correct answer."""
    return prompt(question) + continuation(question.choices[question.answer])


def pretraining_texts(questions: list[ArcQuestion]) -> list[str]:
    """What the base learns the language from: every question answered correctly, then its
    wrong choices as plain text (their words, never presented as an answer)."""
    texts = []
    for question in questions:
        texts.append(answered(question))
        texts.extend(choice for i, choice in enumerate(question.choices) if i != question.answer)
    return texts


def train_tokenizer(texts: list[str], vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE (GPT-2/Qwen2 style: any text encodes, decode(encode(t)) == t) trained
    on `texts`, wrapped as a transformers PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS, pad_token=EOS, bos_token=None,
                                   unk_token=None, clean_up_tokenization_spaces=False,
                                   model_max_length=MAX_POSITIONS)


def qwen2_config(vocab_size: int, size: str = DEFAULT_SIZE, eos_token_id: int = 0):
    from transformers import Qwen2Config

    if size not in SIZES:
        raise ValueError(f"unknown tiny-qwen2 size {size!r}: expected one of {', '.join(SIZES)}")
    return Qwen2Config(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS, tie_word_embeddings=True,
                       rms_norm_eps=1e-6, rope_theta=10000.0, attention_dropout=0.0,
                       bos_token_id=eos_token_id, eos_token_id=eos_token_id, pad_token_id=eos_token_id,
                       **SIZES[size])


def build_tiny_qwen2(questions: list[ArcQuestion], seed: int, size: str = DEFAULT_SIZE,
                     vocab_size: int = VOCAB_SIZE):
    """(untrained model, trained tokenizer) for the ARC train questions and a seed."""
    from transformers import Qwen2ForCausalLM

    tokenizer = train_tokenizer(pretraining_texts(questions), vocab_size)
    config = qwen2_config(len(tokenizer), size, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).float().eval()
    return model, tokenizer


def save_tiny_qwen2(model, tokenizer, folder: str | Path) -> None:
    model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))


def parameter_count(model) -> dict[str, int]:
    """Parameters in total, in the (tied) embedding, and in the transformer blocks."""
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return {"total": total, "embedding": embedding, "transformer": total - embedding}
