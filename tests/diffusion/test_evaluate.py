"""`lolzoo evaluate-diffusion`: a flat label file with the CLIP score and the data's labels."""

import json

import pytest
import torch
from PIL import Image

from lolzoo.cli import main
from lolzoo.lora import read_lora, write_diffusers

from .conftest import EVALUATION, as_arg, diffusion_job


def evaluate(bases, lora, data, out, samples=None, job=None, base=None):
    argv = ["evaluate-diffusion", "--job", job or as_arg(diffusion_job()), "--base", str(base or bases[0]),
            "--clip", str(bases[1]), "--lora", str(lora), "--data", str(data), "--out", str(out)]
    return main(argv + (["--samples", str(samples)] if samples else []))


@pytest.fixture(scope="module")
def lora(bases, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "celeba-00003"
    argv = ["finetune-diffusion", "--job", as_arg(diffusion_job()), "--base", str(bases[0]), "--data", str(data),
            "--out", str(out)]
    assert main(argv) == 0
    return out


def test_label_file_is_flat_with_clip_score_and_data_labels(bases, lora, data, tmp_path):
    out, samples = tmp_path / "labels" / "celeba-00003.json", tmp_path / "samples"
    assert evaluate(bases, lora, data, out, samples) == 0
    labels = json.loads(out.read_text())
    data_labels = json.loads((data / "metadata.json").read_text())["labels"]
    assert labels == {"clip_score": labels["clip_score"], **data_labels}
    assert 0 <= labels["clip_score"] <= 100
    assert all(isinstance(v, (int, float, str, bool)) for v in labels.values())
    with Image.open(samples / "grid.png") as grid:  # two 32×32 samples side by side
        assert grid.size == (64, 32)
    assert json.loads((samples / "prompts.json").read_text()) == EVALUATION["prompts"]


def test_evaluation_is_deterministic(bases, lora, data, tmp_path):
    for name in ("a.json", "b.json"):
        assert evaluate(bases, lora, data, tmp_path / name) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_loaded_lora_has_the_file_alpha_and_changes_the_unet(bases, lora):
    from peft.tuners.lora import LoraLayer

    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import ADAPTER_NAME, load_lora_into, unet_probe

    pipeline = load_tiny_sd(bases[0])
    before = unet_probe(pipeline)
    load_lora_into(pipeline, lora, read_lora(lora))
    scalings = {layer.scaling[ADAPTER_NAME] for layer in pipeline.unet.modules() if isinstance(layer, LoraLayer)}
    assert scalings == {27 / 4} and not torch.equal(before, unet_probe(pipeline))


def test_lora_of_another_base_is_one_line_exit_2(bases, lora, data, tmp_path, capsys):
    from lolzoo.bases.tiny_sd import build_tiny_sd, save_tiny_sd

    narrow = tmp_path / "narrow_sd"
    save_tiny_sd(build_tiny_sd(0, {"unet_channels": [16, 32], "unet_norm_groups": 8}), narrow)
    assert evaluate(bases, lora, data, tmp_path / "x.json", base=narrow) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "another base" in err and not (tmp_path / "x.json").exists()


def test_lora_that_changes_nothing_is_refused(bases, lora, data, tmp_path, capsys):
    trained = read_lora(lora)
    zero = type(trained)([type(m)(m.component, m.path, torch.zeros_like(m.U), m.V, m.alpha) for m in trained.modules],
                         "diffusers")
    write_diffusers(zero, tmp_path / "zero")
    assert evaluate(bases, tmp_path / "zero", data, tmp_path / "x.json") == 2
    assert "unchanged" in capsys.readouterr().err


@pytest.mark.parametrize("job, message", [
    ("[1, 2]", "JSON object"),
    (json.dumps({**diffusion_job(), "zoo": {"type": "dreambooth-subject"}}), "zoo.evaluation"),
    (json.dumps({**diffusion_job(), "zoo": {"type": "dreambooth-classes", "evaluation": {"prompts": []}}}),
     "prompts"),
    (json.dumps({**diffusion_job(), "zoo": {"type": "dreambooth-classes",
                                            "evaluation": {**EVALUATION, "steps": "many"}}}), "steps"),
])
def test_malformed_job_is_one_line_exit_2(bases, lora, data, tmp_path, capsys, job, message):
    assert evaluate(bases, lora, data, tmp_path / "x.json", job=job) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


def test_data_folder_without_metadata_is_one_line(bases, lora, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert evaluate(bases, lora, tmp_path / "empty", tmp_path / "x.json") == 2
    assert "metadata.json" in capsys.readouterr().err
