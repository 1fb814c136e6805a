"""`lolzoo plot-extremes`: the paper's figure 3 from one fit, a tiny SD base and its LoRAs spread over shards."""

import json
import shutil

import pytest
import torch
from PIL import Image

from lolzoo.cli import main
from tests.report.fit_helpers import write_fit

from .conftest import EVALUATION, SUBJECTS, ZOO, as_arg, recipe, shard_job

SHARD = shard_job(*[recipe(lora_id) for lora_id in SUBJECTS])
ZOO_JOB = as_arg({"zoo": ZOO, "recipes": []})  # what the workflow's zoo_job("evaluation") passes
# the fit predicts celeba-00004 best and celeba-00003 worst; celeba-00005 has no true score
PREDICTIONS = [("celeba-00003", "test", 31.0, 20.0), ("celeba-00004", "test", 33.0, 40.0),
               ("celeba-00005", "test", None, 30.0), ("celeba-00009", "train", 35.0, 90.0)]


@pytest.fixture(scope="module")
def shards(bases, data, tmp_path_factory):
    """The three LoRAs over two shard folders: 00003 and 00004 in one, 00005 in the other."""
    root = tmp_path_factory.mktemp("loras")
    argv = ["finetune-diffusion", "--job", as_arg(SHARD), "--base", str(bases[0]), "--data", str(data),
            "--out", str(root / "first")]
    assert main(argv) == 0
    (root / "second").mkdir()
    shutil.move(root / "first" / "celeba-00005", root / "second" / "celeba-00005")
    return [root / "first", root / "second"]


def plot(bases, shards, fit, out, *flags):
    return main(["plot-extremes", str(fit), "--base", str(bases[0]), "--loras", *map(str, shards),
                 "--job", ZOO_JOB, "--out", str(out), *flags])


def test_figure_and_its_json_show_the_base_and_the_extremes(bases, shards, tmp_path):
    fit = write_fit(tmp_path / "fit", PREDICTIONS, model="glnet", seed=2)
    assert plot(bases, shards, fit, tmp_path / "fig" / "extremes.png", "--count", "1", "--prompts", "1") == 0
    document = json.loads((tmp_path / "fig" / "extremes.json").read_text())
    assert document["best"] == [{"lora_id": "celeba-00004", "predicted": 40.0, "true": 33.0}]
    assert document["worst"] == [{"lora_id": "celeba-00003", "predicted": 20.0, "true": 31.0}]
    assert (document["model"], document["seed"], document["zoo"]) == ("glnet", 2, "celeba")
    assert document["prompts"] == EVALUATION["prompts"][:1] and document["fit"] == str(fit)
    with Image.open(tmp_path / "fig" / "extremes.png") as figure:  # rows: base, best, worst; one prompt
        assert figure.format == "PNG" and figure.height == round(1.6 * 3 * 110)


def test_defaults_take_every_prompt_and_split_three_test_loras(bases, shards, tmp_path):
    fit = write_fit(tmp_path / "fit", PREDICTIONS)
    assert plot(bases, shards, fit, tmp_path / "extremes.png") == 0
    document = json.loads((tmp_path / "extremes.json").read_text())
    assert [p["lora_id"] for p in document["best"]] == ["celeba-00004", "celeba-00005"]
    assert document["best"][1]["true"] is None
    assert [p["lora_id"] for p in document["worst"]] == ["celeba-00003"]
    assert document["prompts"] == EVALUATION["prompts"]  # only two, fewer than the default 4
    with Image.open(tmp_path / "extremes.png") as figure:
        assert figure.height == round(1.6 * 4 * 110)


def test_base_images_are_the_images_of_a_lora_that_changes_nothing(bases):
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.batched_lora import BatchedLora, LoraShape
    from lolzoo.diffusion.evaluate import generate, generate_base
    from lolzoo.diffusion.job import evaluation_settings

    pipeline = load_tiny_sd(bases[0])
    settings = evaluation_settings(SHARD)
    base = generate_base(pipeline, settings)
    zero = BatchedLora.attach(pipeline.unet, ZOO["lora"]["target_modules"], [LoraShape(4, 27)])  # A = B = 0
    assert base.shape == (2, 3, 32, 32)
    torch.testing.assert_close(generate(pipeline, zero, settings)[0], base, rtol=0, atol=0)


@pytest.mark.parametrize("case, message", [
    ("missing", "celeba-00005: no LoRA folder in any of the 1 --loras folders"),
    ("not clip", "a regression fit of val_loss; the figure needs a regression fit whose targets include clip_score"),
])
def test_bad_inputs_are_one_line_exit_2_before_any_model_loads(bases, shards, tmp_path, capsys, case, message):
    targets = ("val_loss",) if case == "not clip" else ("clip_score",)
    fit = write_fit(tmp_path / "fit", PREDICTIONS, targets=targets)
    assert plot(bases, shards[:1], fit, tmp_path / "extremes.png") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and not (tmp_path / "extremes.png").exists()
