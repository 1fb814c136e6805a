"""The paper world's stand-in architectures (issue 20): built on the meta device, each has the
real model's published parameter count and the shapes the paper's LoRAs adapt."""

import pytest

from lolzoo.bases.standins import PUBLISHED_PARAMETERS, meta_models


@pytest.fixture(scope="module")
def models():
    return meta_models()


def test_every_stand_in_has_the_published_parameter_count(models):
    counts = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
    assert counts == PUBLISHED_PARAMETERS


def test_sd14_lora_targets_multiply_out_to_the_papers_size(models):
    """Dense (ΔW multiplied out) on SD 1.4's to_q/to_v: 64 matrices, 46,755,840 numbers."""
    targets = [(name, mod.weight.shape) for name, mod in models["sd14-unet"].named_modules()
               if name.endswith(("to_q", "to_v"))]
    assert len(targets) == 64
    assert sum(shape.numel() for _, shape in targets) == 46_755_840
    cross_v = dict(targets)["down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v"]
    assert tuple(cross_v) == (320, 768)  # cross attention reads the 768-wide text states


def test_qwen2_keys_and_values_are_grouped(models):
    attention = models["qwen2-1.5b"].model.layers[0].self_attn
    assert tuple(attention.q_proj.weight.shape) == (1536, 1536)
    assert tuple(attention.k_proj.weight.shape) == tuple(attention.v_proj.weight.shape) == (256, 1536)  # 2 kv heads
    assert len(models["qwen2-1.5b"].model.layers) == 28


def test_nothing_is_allocated(models):
    assert all(p.is_meta for model in models.values() for p in model.parameters())


@pytest.mark.slow  # the session's stand-ins (1.07 billion random parameters: about a minute, 5 GB of memory, 4 GB of disk)
def test_the_sd14_stand_in_is_fetched_and_loaded_as_the_paper_world_loads_sd14(tmp_path, paper_standins):
    import json

    import torch

    from lolzoo.bases.loading import load_sd_pipeline
    from lolzoo.bases.standins import SD14_UNET
    from lolzoo.cli import main

    out = tmp_path / "bases" / "sd"
    assert main(["fetch-base", "--kind", "pretrained", "--role", "sd", "--name", "CompVis/stable-diffusion-v1-4",
                 "--path", str(paper_standins / "sd14"), "--out", str(out)]) == 0
    assert json.loads((out / "base.json").read_text())["role"] == "sd"
    pipeline = load_sd_pipeline(out)
    assert {k: pipeline.unet.config[k] for k in SD14_UNET} == \
        {k: list(v) if isinstance(v, tuple) else v for k, v in SD14_UNET.items()}
    assert sum(p.numel() for p in pipeline.unet.parameters()) == PUBLISHED_PARAMETERS["sd14-unet"]
    assert type(pipeline.scheduler).__name__ == "PNDMScheduler"
    ids = pipeline.tokenizer(["a photo of a person"], padding="max_length", max_length=77,
                             return_tensors="pt").input_ids
    assert ids.shape == (1, 77) and int(ids.max()) < 49408  # within CLIP's embedding table
    with torch.no_grad():
        text = pipeline.text_encoder(ids)[0]
        latents = torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(0))
        noise = pipeline.unet(latents, 10, encoder_hidden_states=text).sample
    assert text.shape == (1, 77, 768) and noise.shape == latents.shape and torch.isfinite(noise).all()


@pytest.mark.slow  # builds and writes 1.54 billion random parameters: a minute or two, about 10 GB of memory
def test_the_qwen2_stand_in_is_fetched_and_loaded_as_the_paper_world_loads_its_lm(tmp_path):
    import torch

    from lolzoo.bases.loading import load_causal_lm
    from lolzoo.bases.standins import write_qwen2_1_5b
    from lolzoo.cli import main

    texts = ["Which gas do plants take in? (A) oxygen (B) carbon dioxide Answer: B"] * 20
    write_qwen2_1_5b(tmp_path / "qwen2", texts, seed=0)
    out = tmp_path / "bases" / "lm"
    assert main(["fetch-base", "--kind", "pretrained", "--role", "lm", "--name", "Qwen/Qwen2-1.5B",
                 "--path", str(tmp_path / "qwen2"), "--out", str(out)]) == 0
    model, tokenizer = load_causal_lm(out)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMETERS["qwen2-1.5b"]
    assert model.config.num_key_value_heads == 2 and model.config.tie_word_embeddings
    batch = tokenizer(["Which gas do plants take in?"], return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch.input_ids.shape[1], 151936) and torch.isfinite(logits).all()


def test_the_clip_stand_in_is_fetched_and_scores_as_the_paper_worlds_scorer(tmp_path):
    import torch

    from lolzoo.bases.loading import load_clip_scorer
    from lolzoo.bases.standins import write_clip_vit_b_16
    from lolzoo.cli import main

    write_clip_vit_b_16(tmp_path / "open_clip_model.safetensors", seed=0)
    out = tmp_path / "bases" / "clip"
    assert main(["fetch-base", "--kind", "pretrained", "--role", "clip", "--name", "ViT-B-16/openai",
                 "--path", str(tmp_path / "open_clip_model.safetensors"), "--out", str(out)]) == 0
    scorer = load_clip_scorer(out)
    assert scorer.image_size == 224
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # resized to 224 by the scorer
    scores = scorer.clip_score(images, ["a photo of a person", "a photo of the digit three"])
    assert scores.shape == (2,) and torch.isfinite(scores).all()


def test_build_standins_writes_each_part_and_records_its_size(tmp_path, capsys):
    import json

    from lolzoo.cli import main

    out = tmp_path / "standins"
    args = ["build-standins", "--out", str(out), "--parts", "celeba", "imagenette", "clip",
            "--identities", "2", "--images-per-class", "2"]
    assert main(args) == 0
    assert (out / "CelebA" / "list_attr_celeba.txt").is_file() and (out / "imagenette2" / "train").is_dir()
    record = json.loads((out / "standins.json").read_text())
    assert record["clip"]["clip-vit-b-16"] == {"parameters": 149_620_737, "published": 149_620_737}
    assert record["celeba"] == {"folder": "CelebA", "seed": 0}
    before = (out / "CelebA" / "identity_CelebA.txt").read_text()
    assert main(args[:5] + ["--identities", "3"]) != 0  # already there: nothing replaced without --overwrite
    assert "already written; pass --overwrite" in capsys.readouterr().err
    assert (out / "CelebA" / "identity_CelebA.txt").read_text() == before
    assert main(args[:5] + ["--identities", "0", "--overwrite"]) != 0
    assert "--identities and --images-per-class must be at least 1" in capsys.readouterr().err
    assert main(args[:5] + ["--identities", "3", "--overwrite"]) == 0
    assert (out / "CelebA" / "identity_CelebA.txt").read_text() != before


def test_the_lm_standins_tokenizer_learns_the_arc_folder_it_is_given(tmp_path, monkeypatch):
    """The first paper-shapes run broke here: a tokenizer of the tiny LM's 1,024 tokens took 587
    tokens for one ARC question and the finetuning job refused it (over 256). Trained on the ARC
    folder's questions, questions take a few tokens a word."""
    import json

    from lolzoo.bases import standins
    from lolzoo.bases.tiny_qwen2 import pretraining_texts, train_tokenizer
    from lolzoo.cli import main
    from lolzoo.data.arc_questions import prompt, write_split
    from tests.language.conftest import make_questions

    questions = make_questions(60)
    write_split(questions, tmp_path / "arc" / "train.jsonl")
    seen = {}
    monkeypatch.setattr(standins, "write_qwen2_1_5b", lambda folder, texts, seed: seen.update(texts=texts))
    assert main(["build-standins", "--out", str(tmp_path / "out"), "--parts", "lm",
                 "--lm-texts", str(tmp_path / "arc")]) == 0
    assert seen["texts"] == pretraining_texts(questions)
    assert json.loads((tmp_path / "out" / "standins.json").read_text())["lm"]["tokenizer_texts"] == str(tmp_path / "arc")
    tokenizer = train_tokenizer(seen["texts"], standins.LM_TOKENIZER_VOCAB)
    for question in questions:
        text = prompt(question)
        assert len(tokenizer(text).input_ids) <= 2 * len(text.split())


def test_an_lm_texts_folder_without_arc_questions_is_named_and_nothing_is_written(tmp_path, capsys):
    from lolzoo.cli import main

    out = tmp_path / "out"
    assert main(["build-standins", "--out", str(out), "--parts", "lm", "--lm-texts", str(tmp_path / "no-arc")]) != 0
    assert f"{tmp_path / 'no-arc' / 'train.jsonl'}: missing; prepare the ARC data first" in capsys.readouterr().err
    assert not out.exists()
