"""`lolzoo pretrain-base`: one-line errors for a bad base or budget; a tiny run writes a loadable,
trained base folder whose base.json records the steps run."""

import json

import pytest
import torch

from lolzoo.bases.tiny_clip import load_tiny_clip
from lolzoo.bases.tiny_sd import load_tiny_sd
from lolzoo.cli import main

QUICK = ["--faces", "8", "--digits", "8", "--threads", "1", "--log-every", "0"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("bases")
    assert main(["build-base", "--kind", "tiny-sd", "--out", str(root / "sd")]) == 0
    assert main(["build-base", "--kind", "tiny-clip", "--out", str(root / "clip")]) == 0
    return root


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_missing_base_folder_is_a_one_line_error(tmp_path, capsys):
    code = main(["pretrain-base", "--kind", "tiny-sd", "--base", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "out"), "--minutes", "1"])
    assert code == 2
    assert "not a base folder" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_wrong_kind_and_missing_budget_are_one_line_errors(built, tmp_path, capsys):
    assert main(["pretrain-base", "--kind", "tiny-clip", "--base", str(built / "sd"), "--out", str(tmp_path / "o"),
                 "--minutes", "1"]) == 2
    assert "holds a tiny-sd base" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-clip", "--base", str(built / "clip"), "--out", str(tmp_path / "o")]) == 2
    assert "give a budget" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--out", str(tmp_path / "o"),
                 "--steps", "2"]) == 2
    assert "--vae-steps" in one_line_error(capsys)


def test_tiny_sd_run_writes_a_trained_loadable_base(built, tmp_path):
    out = tmp_path / "sd"
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--out", str(out),
                 "--steps", "2", "--vae-steps", "2", *QUICK]) == 0
    card = json.loads((out / "base.json").read_text())
    assert card["trained"] is True and card["kind"] == "tiny-sd"
    record = card["pretraining"]
    assert record["vae_steps"] == 2 and record["unet_steps"] == 2 and record["images"] == 16
    pipeline = load_tiny_sd(out)
    assert pipeline.vae.config.scaling_factor == pytest.approx(record["latent_scaling_factor"])
    assert pipeline.vae.config.scaling_factor != 0.18215
    losses = json.loads((out / "pretrain_losses.json").read_text())
    assert len(losses["vae"]) == 2 and len(losses["unet"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_tiny_sd_conditions_on_a_clip_text_tower_it_leaves_unchanged(built, tmp_path):
    out = tmp_path / "sd"
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--out", str(out),
                 "--text-encoder", str(built / "clip"), "--digit-share", "0.7",
                 "--steps", "2", "--vae-steps", "1", *QUICK]) == 0
    record = json.loads((out / "base.json").read_text())["pretraining"]
    assert record["digit_share"] == 0.7 and str(built / "clip") in record["text_encoder"]
    clip, pipeline = load_tiny_clip(built / "clip"), load_tiny_sd(out)
    copied = pipeline.text_encoder.state_dict()
    assert torch.equal(copied["embeddings.token_embedding.weight"], clip.model.token_embedding.weight)
    assert torch.equal(copied["final_layer_norm.weight"], clip.model.ln_final.weight)


def test_text_encoder_and_digit_share_errors_are_one_line(built, tmp_path, capsys):
    common = ["--out", str(tmp_path / "o"), "--steps", "1", "--vae-steps", "1"]
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--text-encoder",
                 str(built / "sd"), *common]) == 2
    assert "takes a tiny-clip base" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--text-encoder",
                 str(tmp_path / "none"), *common]) == 2
    assert "not a base folder" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--digit-share", "1.5", *common]) == 2
    assert "--digit-share must be between 0 and 1" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-clip", "--base", str(built / "clip"), "--digit-share", "0.5",
                 *common]) == 2
    assert "tiny-sd options" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()


def test_tiny_clip_run_is_deterministic(built, tmp_path):
    for name in ("a", "b"):
        assert main(["pretrain-base", "--kind", "tiny-clip", "--base", str(built / "clip"),
                     "--out", str(tmp_path / name), "--steps", "2", *QUICK]) == 0
    assert (tmp_path / "a" / "open_clip_model.safetensors").read_bytes() == \
        (tmp_path / "b" / "open_clip_model.safetensors").read_bytes()
    assert json.loads((tmp_path / "a" / "base.json").read_text())["pretraining"]["clip_steps"] == 2
    load_tiny_clip(tmp_path / "a")


def test_continue_trains_only_the_unet_of_a_pretrained_sd(built, tmp_path, capsys):
    parent, sibling = tmp_path / "parent", tmp_path / "sibling"
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), "--out", str(parent),
                 "--text-encoder", str(built / "clip"), "--steps", "1", "--vae-steps", "1", *QUICK]) == 0
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(parent), "--out", str(sibling), "--continue",
                 "--steps", "2", "--seed", "1", *QUICK]) == 0
    record = json.loads((sibling / "base.json").read_text())["pretraining"]
    assert record["unet_steps"] == 2 and record["seed"] == 1 and record["continued_from"] == str(parent)
    assert record["parent_pretraining"]["vae_steps"] == 1
    old, new = load_tiny_sd(parent), load_tiny_sd(sibling)
    for part in ("vae", "text_encoder"):  # shared with the parent bit for bit, as SD 1.5's are SD 1.4's
        for (name, a), b in zip(getattr(old, part).state_dict().items(), getattr(new, part).state_dict().values()):
            assert torch.equal(a, b), f"{part}.{name} changed"
    assert new.vae.config.scaling_factor == old.vae.config.scaling_factor
    changed = [name for (name, a), b in zip(old.unet.state_dict().items(), new.unet.state_dict().values())
               if not torch.equal(a, b)]
    assert len(changed) > len(old.unet.state_dict()) // 2

    # an untrained base, a VAE budget or another kind are refused before any training
    capsys.readouterr()  # the runs' progress bars
    common = ["--out", str(tmp_path / "o"), "--continue", "--steps", "1"]
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(built / "sd"), *common]) == 2
    assert "untrained" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-sd", "--base", str(parent), "--vae-steps", "1", *common]) == 2
    assert "keeps the base's VAE" in one_line_error(capsys)
    assert main(["pretrain-base", "--kind", "tiny-clip", "--base", str(built / "clip"), *common]) == 2
    assert "tiny-sd option" in one_line_error(capsys)
    assert not (tmp_path / "o").exists()
