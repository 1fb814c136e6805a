"""`lolzoo evaluate-diffusion --seed N` (issue 18's re-measurement): the job's evaluation under
another seed, otherwise identical, so the same as a job whose zoo.evaluation.seed is N."""

import json

from .conftest import EVALUATION, SUBJECTS, ZOO, as_arg, recipe, shard_job
from .test_evaluate import assert_not_degenerate, clip_scores_of, evaluate, loras  # noqa: F401 (a fixture)


def test_seed_flag_is_the_job_under_that_evaluation_seed(bases, loras, data, tmp_path):  # noqa: F811
    recipes = [recipe(lora_id) for lora_id in SUBJECTS]
    assert evaluate(bases, loras, data, tmp_path / "first") == 0
    argv = ["evaluate-diffusion", "--job", as_arg(shard_job(*recipes)), "--base", str(bases[0]), "--clip",
            str(bases[1]), "--loras", str(loras), "--data", str(data), "--seed", str(EVALUATION["seed"] + 1),
            "--out", str(tmp_path / "second")]
    from lolzoo.cli import main

    assert main(argv) == 0
    reseeded = {"zoo": {**ZOO, "evaluation": {**EVALUATION, "seed": EVALUATION["seed"] + 1}}, "recipes": recipes}
    assert evaluate(bases, loras, data, tmp_path / "job_seed", job=as_arg(reseeded)) == 0
    first, second = clip_scores_of(tmp_path / "first"), clip_scores_of(tmp_path / "second")
    assert_not_degenerate(second)
    assert second == clip_scores_of(tmp_path / "job_seed")  # the flag is exactly the job's seed
    assert first != second  # other sampling noise, so another measurement
    # the data labels are the same: only the CLIP score is measured again
    for lora_id in SUBJECTS:
        one, two = (json.loads((tmp_path / run / f"{lora_id}.json").read_text()) for run in ("first", "second"))
        assert {k: v for k, v in one.items() if k != "clip_score"} == {k: v for k, v in two.items() if k != "clip_score"}
