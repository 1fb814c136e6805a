"""`lolzoo fetch-base` and lolzoo.bases.loading, offline: tiny stand-ins for SD 1.4 and ViT-B-16.

The "pretrained" SD is the tiny pipeline saved as a diffusers folder; the "pretrained" CLIP
is a tiny open_clip architecture registered with open_clip for the session, saved as
safetensors. Both are fetched with --path and loaded back through loading.py.
"""

import json

import pytest
import torch

from lolzoo.bases.loading import OpenClipScorer, load_clip_scorer, load_sd_pipeline
from lolzoo.cli import main
from lolzoo.errors import LolzooError

TINY_ARCH = "lolzoo-test-tiny-clip"
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def sd_folder(tmp_path_factory):
    from lolzoo.bases.tiny_sd import build_tiny_sd

    folder = tmp_path_factory.mktemp("hub") / "stable-diffusion-tiny"
    pipeline = build_tiny_sd(0)
    pipeline.save_pretrained(str(folder), safe_serialization=True)
    return folder, pipeline


@pytest.fixture(scope="module")
def clip_weights(tmp_path_factory):
    import open_clip
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("clip")
    (root / f"{TINY_ARCH}.json").write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(root / f"{TINY_ARCH}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_ARCH, pretrained=None).eval()
    weights = root / "weights" / "open_clip_model.safetensors"
    weights.parent.mkdir()
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(weights))
    return weights, model


def fetch(*args):
    return main(["fetch-base", "--kind", "pretrained", *map(str, args)])


def test_fetched_sd_folder_loads_with_the_same_unet(sd_folder, tmp_path):
    source, original = sd_folder
    out = tmp_path / "bases" / "sd"
    assert fetch("--role", "sd", "--name", "CompVis/stable-diffusion-v1-4", "--path", source, "--out", out) == 0
    card = json.loads((out / "base.json").read_text())
    assert card == {"kind": "pretrained", "role": "sd", "name": "CompVis/stable-diffusion-v1-4",
                    "source": str(source.resolve()), "linked": True}
    assert (out / "unet").is_symlink() and (out / "model_index.json").is_symlink()
    assert not (source / "base.json").exists()  # the local copy is never written to
    loaded = load_sd_pipeline(out)
    unet, config = original.unet, original.unet.config
    torch.manual_seed(1)
    latents = torch.randn(1, config.in_channels, config.sample_size, config.sample_size)
    text = torch.randn(1, 4, config.cross_attention_dim)
    with torch.no_grad():
        expected = unet(latents, 10, encoder_hidden_states=text).sample
        got = loaded.unet(latents, 10, encoder_hidden_states=text).sample
    assert torch.allclose(expected, got, atol=1e-5)
    loaded_state = loaded.unet.state_dict()
    assert all(torch.equal(v, loaded_state[k]) for k, v in unet.state_dict().items())
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_copy_makes_real_files(sd_folder, tmp_path):
    out = tmp_path / "sd"
    assert fetch("--role", "sd", "--name", "x/y", "--path", sd_folder[0], "--copy", "--out", out) == 0
    assert not (out / "unet").is_symlink() and (out / "unet" / "config.json").is_file()
    assert json.loads((out / "base.json").read_text())["linked"] is False
    copied = load_sd_pipeline(out).unet.state_dict()  # the copy loads, with the original's weights
    assert all(torch.equal(v, copied[k]) for k, v in sd_folder[1].unet.state_dict().items())


def test_fetched_clip_scores_like_the_original(clip_weights, tmp_path):
    import open_clip

    weights, original = clip_weights
    out = tmp_path / "clip"
    # a folder holding the weights works as well as the file itself
    assert fetch("--role", "clip", "--name", f"{TINY_ARCH}/openai", "--path", weights.parent, "--out", out) == 0
    card = json.loads((out / "base.json").read_text())
    assert card["role"] == "clip" and card["open_clip"]["model"] == TINY_ARCH
    assert card["open_clip"]["weights"] == "open_clip_model.safetensors"
    assert (out / "open_clip_model.safetensors").is_symlink()
    scorer = load_clip_scorer(out)
    assert isinstance(scorer, OpenClipScorer) and scorer.image_size == 32
    # the random open_clip scores "a clock tower" below 0 and "a person" above: both sides of the clamp
    images = torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    prompts = ["a clock tower", "a person"]
    scores = scorer.clip_score(images, prompts)
    assert scores.shape == (2,) and (scores >= 0).all()
    assert scores[0] == 0 and scores[1] > 1.0, scores  # else equal all-zero scores would prove nothing
    # the same number computed by hand from the original model
    small = torch.nn.functional.interpolate(images, size=(32, 32), mode="bicubic", align_corners=False).clamp(0, 1)
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        cos = (original.encode_image((small - mean) / std, normalize=True)
               * original.encode_text(open_clip.get_tokenizer(TINY_ARCH)(prompts), normalize=True)).sum(-1)
    assert torch.allclose(scores, (100 * cos).clamp(min=0), atol=1e-4)


def test_vit_b_16_openai_is_read_from_open_clips_registry():
    from lolzoo.bases.fetch_cli import clip_registry_entry

    entry = clip_registry_entry("ViT-B-16/openai")
    assert entry["model"] == "ViT-B-16" and entry["quick_gelu"] is True
    assert entry["hf_hub"] == "timm/vit_base_patch16_clip_224.openai"


def test_tiny_kinds_dispatch_to_the_tiny_loaders(tmp_path):
    from lolzoo.bases.tiny_clip import TinyClip

    assert main(["build-base", "--kind", "tiny-clip", "--out", str(tmp_path / "clip")]) == 0
    assert isinstance(load_clip_scorer(tmp_path / "clip"), TinyClip)


@pytest.mark.parametrize("role,name", [("sd", "CompVis/stable-diffusion-v1-4"), ("clip", "ViT-B-16/openai")])
def test_offline_download_fails_in_one_line_pointing_to_path(role, name, tmp_path, capsys):
    out = tmp_path / role
    assert fetch("--role", role, "--name", name, "--out", out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Hugging Face hub" in err and "--path" in err
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing half-written


def test_missing_and_broken_local_copies(sd_folder, tmp_path, capsys):
    assert fetch("--role", "sd", "--name", "a/b", "--path", tmp_path / "nowhere", "--out", tmp_path / "o") == 2
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text("{}")
    (broken / "unet").mkdir()
    assert fetch("--role", "sd", "--name", "a/b", "--path", broken, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "missing vae, text_encoder, tokenizer, scheduler" in err and len(err.strip().splitlines()) == 1
    assert fetch("--role", "clip", "--name", "ViT-B-16/openai", "--path", broken, "--out", tmp_path / "o") == 2
    assert "no open_clip weights file" in capsys.readouterr().err
    assert fetch("--role", "clip", "--name", "NoSuchNet/openai", "--path", broken, "--out", tmp_path / "o") == 2
    assert "not an open_clip architecture" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_loading_errors_are_one_line(clip_weights, tmp_path):
    with pytest.raises(LolzooError, match="does not exist"):
        load_sd_pipeline(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LolzooError, match="no base.json"):
        load_clip_scorer(tmp_path / "empty")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "base.json").write_text(json.dumps({"kind": "gguf"}))
    with pytest.raises(LolzooError, match="kind 'gguf' is not a Stable Diffusion base"):
        load_sd_pipeline(odd)
    out = tmp_path / "clip"
    assert fetch("--role", "clip", "--name", TINY_ARCH, "--path", clip_weights[0], "--out", out) == 0
    (out / "open_clip_model.safetensors").unlink()
    with pytest.raises(LolzooError, match="weights file 'open_clip_model.safetensors' is missing"):
        load_clip_scorer(out)
    with pytest.raises(LolzooError, match="not a Stable Diffusion base|not an sd base"):
        load_sd_pipeline(out)
