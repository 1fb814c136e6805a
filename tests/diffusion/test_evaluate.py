"""`lolzoo evaluate-diffusion`: one flat label file per LoRA of a shard (CLIP score and the data's labels),
each what the LoRA gets when evaluated alone, with the LoRA acting as diffusers loads it."""

import json
import shutil

import pytest
import torch
from PIL import Image

from lolzoo.cli import main
from lolzoo.lora import read_lora, write_diffusers

from .conftest import EVALUATION, SUBJECTS, ZOO, as_arg, recipe, shard_job

SHARD = shard_job(*[recipe(lora_id) for lora_id in SUBJECTS])


def evaluate(bases, loras, data, out, samples=None, job=None, base=None, samples_for=None):
    argv = ["evaluate-diffusion", "--job", job or as_arg(SHARD), "--base", str(base or bases[0]),
            "--clip", str(bases[1]), "--loras", str(loras), "--data", str(data), "--out", str(out)]
    argv += ["--samples", str(samples)] if samples else []
    argv += ["--samples-for", str(samples_for)] if samples_for is not None else []
    return main(argv)


@pytest.fixture(scope="module")
def loras(bases, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("loras") / "shard"
    argv = ["finetune-diffusion", "--job", as_arg(SHARD), "--base", str(bases[0]), "--data", str(data),
            "--out", str(out)]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def labelled(bases, loras, data, tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    assert evaluate(bases, loras, data, root / "labels", samples=root / "samples", samples_for=2) == 0
    return root


def test_label_files_are_flat_with_clip_score_and_data_labels(labelled, data):
    assert sorted(p.name for p in (labelled / "labels").iterdir()) == sorted(f"{i}.json" for i in SUBJECTS)
    for lora_id in SUBJECTS:
        labels = json.loads((labelled / "labels" / f"{lora_id}.json").read_text())
        data_labels = json.loads((data / lora_id / "metadata.json").read_text())["labels"]
        assert labels == {"clip_score": labels["clip_score"], **data_labels}
        assert 0 <= labels["clip_score"] <= 100
        assert all(isinstance(v, (int, float, str, bool)) for v in labels.values())


def test_samples_are_grids_for_the_first_n_loras(labelled):
    first = list(SUBJECTS)[:2]
    assert sorted(p.name for p in (labelled / "samples").iterdir()) == sorted([*(f"{i}.png" for i in first),
                                                                               "prompts.json"])
    for lora_id in first:
        with Image.open(labelled / "samples" / f"{lora_id}.png") as grid:  # two 32×32 samples side by side
            assert grid.size == (64, 32)
    assert json.loads((labelled / "samples" / "prompts.json").read_text()) == EVALUATION["prompts"]


def clip_scores_of(labels_folder) -> list[float]:
    return [json.loads((labels_folder / f"{lora_id}.json").read_text())["clip_score"] for lora_id in SUBJECTS]


def assert_not_degenerate(scores: list[float]) -> None:
    """Equal scores between runs mean something only if they are not all clamped to 0 or all alike:
    each LoRA's samples score above 0 and no two LoRAs score the same."""
    assert min(scores) > 1.0, scores
    assert len(set(scores)) == len(scores), scores


def test_clip_scores_are_not_degenerate(labelled):
    assert_not_degenerate(clip_scores_of(labelled / "labels"))


def test_evaluation_is_deterministic(bases, loras, data, labelled, tmp_path):
    assert_not_degenerate(clip_scores_of(labelled / "labels"))
    assert evaluate(bases, loras, data, tmp_path / "again") == 0
    for lora_id in SUBJECTS:
        name = f"{lora_id}.json"
        assert (tmp_path / "again" / name).read_bytes() == (labelled / "labels" / name).read_bytes()


def test_each_lora_of_a_shard_gets_the_labels_it_gets_alone(bases, loras, data, labelled, tmp_path):
    assert_not_degenerate(clip_scores_of(labelled / "labels"))
    for lora_id in SUBJECTS:
        assert evaluate(bases, loras, data, tmp_path / lora_id, job=as_arg(shard_job(recipe(lora_id)))) == 0
        alone = json.loads((tmp_path / lora_id / f"{lora_id}.json").read_text())
        in_shard = json.loads((labelled / "labels" / f"{lora_id}.json").read_text())
        assert alone == {**in_shard, "clip_score": pytest.approx(in_shard["clip_score"], rel=1e-4, abs=1e-4)}


def test_images_do_not_depend_on_the_chunking(bases, loras):
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import generate, load_shard
    from lolzoo.diffusion.job import evaluation_settings

    pipeline = load_tiny_sd(bases[0])
    shard = load_shard(pipeline, [read_lora(loras / i) for i in SUBJECTS], list(SUBJECTS))
    settings = evaluation_settings(SHARD)
    whole, chunked = generate(pipeline, shard, settings), generate(pipeline, shard, settings, images_per_batch=4)
    assert whole.shape == (3, 2, 3, 32, 32)
    torch.testing.assert_close(chunked, whole, rtol=1e-4, atol=1e-5)


def test_batched_loras_act_on_the_unet_as_diffusers_loads_them(bases, loras):
    """Each LoRA's slot of the shard changes the UNet exactly as pipeline.load_lora_weights of its file does."""
    from peft.tuners.lora import LoraLayer

    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import ADAPTER_NAME, load_lora_into, load_shard, unet_probe

    pipeline = load_tiny_sd(bases[0])
    before = unet_probe(pipeline)
    shard = load_shard(pipeline, [read_lora(loras / i) for i in SUBJECTS], list(SUBJECTS))
    shard.router.index = torch.arange(len(SUBJECTS))
    batched = unet_probe(pipeline, copies=len(SUBJECTS))
    shard.detach()
    assert torch.equal(unet_probe(pipeline), before)
    for k, lora_id in enumerate(SUBJECTS):
        reference = load_tiny_sd(bases[0])
        load_lora_into(reference, loras / lora_id, read_lora(loras / lora_id))
        scalings = {layer.scaling[ADAPTER_NAME] for layer in reference.unet.modules() if isinstance(layer, LoraLayer)}
        assert scalings == {27 / 4}
        loaded = unet_probe(reference)[0]
        assert not torch.allclose(loaded, before[0])
        torch.testing.assert_close(batched[k], loaded, rtol=1e-4, atol=1e-5)


def test_lora_of_another_base_is_one_line_exit_2(bases, loras, data, tmp_path, capsys):
    from lolzoo.bases.tiny_sd import build_tiny_sd, save_tiny_sd

    narrow = tmp_path / "narrow_sd"
    save_tiny_sd(build_tiny_sd(0, {"unet_channels": [16, 32], "unet_norm_groups": 8}), narrow)
    shutil.copy(bases[0] / "base.json", narrow / "base.json")  # a tiny-sd base, only narrower
    assert evaluate(bases, loras, data, tmp_path / "x", base=narrow) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "another base" in err and "celeba-00003" in err and not (tmp_path / "x").exists()


def test_lora_that_changes_nothing_is_refused_and_nothing_is_written(bases, loras, data, tmp_path, capsys):
    shutil.copytree(loras, tmp_path / "loras")
    trained = read_lora(loras / "celeba-00004")
    zero = type(trained)([type(m)(m.component, m.path, torch.zeros_like(m.U), m.V, m.alpha) for m in trained.modules],
                         "diffusers")
    shutil.rmtree(tmp_path / "loras" / "celeba-00004")
    write_diffusers(zero, tmp_path / "loras" / "celeba-00004")
    assert evaluate(bases, tmp_path / "loras", data, tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "unchanged" in err and "celeba-00004" in err and not (tmp_path / "x").exists()


@pytest.mark.parametrize("job, message", [
    ("[1, 2]", "JSON object"),
    (json.dumps({**SHARD, "zoo": {"type": "dreambooth-subject", "evaluation": "fast"}}), "zoo.evaluation must be"),
    (json.dumps({**SHARD, "zoo": {"type": "dreambooth-classes", "evaluation": {"prompts": []}}}), "prompts"),
    (json.dumps({**SHARD, "zoo": {"type": "dreambooth-classes", "evaluation": {**EVALUATION, "steps": "many"}}}),
     "steps"),
    (json.dumps({"zoo": ZOO, "recipes": [recipe(), recipe()]}), "more than once"),
])
def test_malformed_job_is_one_line_exit_2(bases, loras, data, tmp_path, capsys, job, message):
    assert evaluate(bases, loras, data, tmp_path / "x", job=job) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err


def test_missing_data_or_lora_folder_is_one_line_naming_the_lora(bases, loras, data, tmp_path, capsys):
    job = as_arg(shard_job(recipe(), recipe("celeba-00099")))
    assert evaluate(bases, loras, data, tmp_path / "x", job=job) == 2
    assert "celeba-00099" in capsys.readouterr().err
    (tmp_path / "data" / "celeba-00003").mkdir(parents=True)
    assert evaluate(bases, loras, tmp_path / "data", tmp_path / "x", job=as_arg(shard_job(recipe()))) == 2
    assert "metadata.json" in capsys.readouterr().err
    (tmp_path / "no_loras").mkdir()
    assert evaluate(bases, tmp_path / "no_loras", data, tmp_path / "x", job=as_arg(shard_job(recipe()))) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no LoRA folder for celeba-00003" in err and not (tmp_path / "x").exists()


def test_more_images_per_prompt_add_images_from_other_seeds(bases, loras):
    """Image 0 of each prompt is the one-image evaluation's; image 1 comes from seed + 1000, and
    the re-measurement's seeds (seed + 1) share none of them."""
    import dataclasses

    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.bases.loading import load_clip_scorer
    from lolzoo.diffusion.evaluate import clip_scores, generate, load_shard
    from lolzoo.diffusion.job import evaluation_settings

    pipeline = load_tiny_sd(bases[0])
    shard = load_shard(pipeline, [read_lora(loras / i) for i in SUBJECTS], list(SUBJECTS))
    one = evaluation_settings(SHARD)
    two = dataclasses.replace(one, images_per_prompt=2)
    single, double = generate(pipeline, shard, one), generate(pipeline, shard, two)
    prompts = len(one.prompts)
    assert double.shape == (3, 2 * prompts, 3, 32, 32)
    torch.testing.assert_close(double[:, :prompts], single, rtol=1e-4, atol=1e-5)
    assert (double[:, prompts:] - single).abs().amax() > 0.05
    assert not set(two.image_seeds()) & set(dataclasses.replace(two, seed=two.seed + 1).image_seeds())
    clip = load_clip_scorer(bases[1])
    halves = [clip_scores(clip, double[:, :prompts], one.prompts), clip_scores(clip, double[:, prompts:], one.prompts)]
    assert clip_scores(clip, double, one.prompts) == pytest.approx([(a + b) / 2 for a, b in zip(*halves)], rel=1e-5)


@pytest.mark.parametrize("sampler, scheduler", [("dpm-solver", "DPMSolverMultistepScheduler"),
                                                ("euler", "EulerDiscreteScheduler"), ("ddim", "DDIMScheduler")])
def test_a_sampler_keeps_the_base_noise_schedule(bases, sampler, scheduler):
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import use_sampler

    pipeline = load_tiny_sd(bases[0])
    own = pipeline.scheduler
    use_sampler(pipeline, sampler)
    assert type(pipeline.scheduler).__name__ == scheduler
    torch.testing.assert_close(pipeline.scheduler.betas, own.betas)
    use_sampler(pipeline, "base")  # the base's own: nothing changes
    assert type(pipeline.scheduler).__name__ == scheduler


def test_the_evaluation_samples_with_the_configured_sampler(bases, loras, data, labelled, tmp_path):
    """dpm-solver at 5 steps labels the shard from other images than the base's sampler does."""
    job = dict(SHARD, zoo={**SHARD["zoo"], "evaluation": {**EVALUATION, "sampler": "dpm-solver", "steps": 5}})
    assert evaluate(bases, loras, data, tmp_path / "fast", job=json.dumps(job)) == 0
    fast = [json.loads((tmp_path / "fast" / f"{i}.json").read_text())["clip_score"] for i in SUBJECTS]
    own = [json.loads((labelled / "labels" / f"{i}.json").read_text())["clip_score"] for i in SUBJECTS]
    assert all(0 <= v <= 100 for v in fast)
    assert all(a != b for a, b in zip(fast, own))  # the test bases' images are near-constant: scores move little


@pytest.mark.parametrize("evaluation, message", [({"sampler": "plms"}, "sampler 'plms' is not a sampler"),
                                                 ({"images_per_prompt": 0}, "images_per_prompt = 0 must be at least 1")])
def test_bad_evaluation_settings_name_the_key(evaluation, message):
    from lolzoo.diffusion.job import JobError, evaluation_settings

    job = dict(SHARD, zoo={**SHARD["zoo"], "evaluation": {**EVALUATION, **evaluation}})
    with pytest.raises(JobError, match=message):
        evaluation_settings(job)


def test_a_zoo_without_evaluation_is_labelled_by_its_data(loras, data, tmp_path, capsys):
    """No base, no CLIP, no sampling: each label file is the LoRA's finetuning-data labels."""
    job = json.dumps({**SHARD, "zoo": {"type": "dreambooth-subject"}})
    argv = ["evaluate-diffusion", "--job", job, "--loras", str(loras), "--data", str(data), "--out", str(tmp_path / "x")]
    assert main(argv) == 0
    for lora_id in SUBJECTS:
        labels = json.loads((tmp_path / "x" / f"{lora_id}.json").read_text())
        assert labels == json.loads((data / lora_id / "metadata.json").read_text())["labels"]
    assert main([*argv[:-1], str(tmp_path / "y"), "--seed", "43"]) == 2  # a re-measurement needs an evaluation
    assert "need an evaluation" in capsys.readouterr().err and not (tmp_path / "y").exists()


def test_an_evaluation_needs_the_base_and_clip(loras, data, tmp_path, capsys):
    argv = ["evaluate-diffusion", "--job", as_arg(SHARD), "--loras", str(loras), "--data", str(data),
            "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    assert "--base and --clip are needed" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_an_unknown_sampler_or_a_partial_image_set_is_refused(bases):
    from lolzoo.bases.tiny_sd import load_tiny_sd
    from lolzoo.diffusion.evaluate import image_clip_scores, use_sampler
    from lolzoo.errors import LolzooError

    with pytest.raises(LolzooError, match="sampler 'plms' is not known"):
        use_sampler(load_tiny_sd(bases[0]), "plms")
    with pytest.raises(ValueError, match="3 images per LoRA is not a whole number of images per each of 2 prompts"):
        image_clip_scores(None, torch.zeros(1, 3, 3, 32, 32), ["a", "b"])
