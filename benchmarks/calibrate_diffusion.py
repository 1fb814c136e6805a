"""Calibrate a diffusion zoo of the default world: what finetuning and evaluation settings cost,
and how much signal the zoo's labels and weights then carry (issue 19).

For each finetuning point (the zoo's recipe with its step counts and learning rates scaled),
a pilot zoo of --loras LoRAs is built in this process with the project's own code: the
recipes (lolzoo.recipes.zoos), their finetuning data (lolzoo.data.prepare), one batched
finetuning shard (lolzoo.diffusion.finetune). Each pilot zoo is then evaluated under every
evaluation point (sampler and denoising steps) with 2 × max(--images) seeds per prompt, so that
every label a world could use (P prompts, I images per prompt) is measured twice, on disjoint
seeds: its test-retest reliability (lolzoo.report.reliability) for each (P, I) comes from the
same images. Last, the pilot zoo is packed and the ridge reference and LoL models are
cross-validated on it (lolzoo.lol.cv: --folds folds, one seed, each task's paper preset) on
the CLIP score of the chosen evaluation point and on the zoo's data task (celeba's attributes,
imagenette's classes and dataset size).

Cost columns are seconds per LoRA of one process on this machine (the two cores): finetuning
(the shard's training alone) and evaluation (sampling and CLIP scoring of P × I images).
Time it on an idle machine.

    python benchmarks/calibrate_diffusion.py --zoo celeba [--loras 100] [--steps 1 3] [--lr 1 0.3]
        [--eval dpm-solver:5 base:10] [--images 1 2] [--prompts 8 4] [--folds 5] [--out results/calibration]

Writes <out>/<zoo>/sweep.csv (one row per finetuning × evaluation × prompts × images point,
with the fits' scores on the rows of the evaluation point they were fitted on), sweep.md and
sweep.png; prints the table.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TASK_METRIC = {"regression": "r2", "multilabel": "auroc", "multiclass": "accuracy"}


# ---- the pilot zoo --------------------------------------------------------------------------

def scaled(spec, factor: float, integer: bool):
    """A recipe hyperparameter spec (a value, {choice: [...]}, {loguniform|uniform: [a, b]}) times factor."""
    def one(value):
        return max(1, round(value * factor)) if integer else value * factor

    if isinstance(spec, dict):
        return {kind: [one(v) for v in values] for kind, values in spec.items()}
    return one(spec)


def pilot_zoo(config: dict, zoo_name: str, count: int, steps: float, lr: float) -> dict:
    """The zoo's config entry with `count` LoRAs and its steps and learning rates scaled."""
    entry = copy.deepcopy(config["zoos"][zoo_name])
    entry["count"] = count
    hparams = entry["hparams"]
    hparams["max_train_steps"] = scaled(hparams["max_train_steps"], steps, integer=True)
    hparams["learning_rate"] = scaled(hparams["learning_rate"], lr, integer=False)
    return entry


def finetune_images(config: dict, entry: dict, recipes: list[dict]):
    """Per LoRA: its images as (N, 3, H, W) in [-1, 1] and its data labels."""
    import torch

    from lolzoo.data.prepare import finetune_data

    images, labels = [], []
    for recipe in recipes:
        built = finetune_data({"recipe": recipe, "zoo": entry, "data": config["data"][entry["data"]]})
        pixels = np.stack(built.images).astype(np.float32) / 127.5 - 1.0
        images.append(torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous())
        labels.append({k: v for k, v in built.labels.items() if isinstance(v, (int, float))})
    return images, labels


def train_pilot(pipeline, entry: dict, recipes: list[dict], images) -> tuple[list, float]:
    """The pilot's LoRAs, trained as one shard; the seconds its training took."""
    import torch

    from lolzoo.diffusion.finetune import finetune_shard
    from lolzoo.diffusion.job import training_settings
    from lolzoo.recipes.job import make_job

    job = make_job(entry, recipes, ("lora",))
    settings = training_settings(job)
    began = time.perf_counter()
    shard = finetune_shard(pipeline, images, settings, torch.device("cpu"))
    return [r.lora for r in shard.results], time.perf_counter() - began


# ---- evaluation: per-image CLIP scores ------------------------------------------------------

def image_scores(pipeline, clip, loras, names, prompts, sampler: str, steps: int, guidance: float, seed: int,
                 images: int) -> tuple[np.ndarray, float]:
    """(LoRAs, prompts, 2 × images) CLIP scores, one image each, as the world measures them: the
    first `images` are the evaluation's (seed), the others its re-measurement's (seed + 1). The
    seconds sampling and scoring took."""
    from lolzoo.diffusion.evaluate import generate, image_clip_scores, load_shard, use_sampler
    from lolzoo.diffusion.job import EvaluationSettings

    own = pipeline.scheduler
    use_sampler(pipeline, sampler)
    shard = load_shard(pipeline, loras, names)
    began = time.perf_counter()
    try:
        halves = []
        for half_seed in (seed, seed + 1):
            settings = EvaluationSettings(tuple(prompts), steps, half_seed, guidance, images, sampler)
            scores = image_clip_scores(clip, generate(pipeline, shard, settings), prompts).numpy()
            halves.append(scores.reshape(len(loras), images, len(prompts)).transpose(0, 2, 1))
    finally:
        shard.detach()
        pipeline.scheduler = own  # the next point starts from the base's own sampler
    return np.concatenate(halves, axis=2), time.perf_counter() - began


def label(scores: np.ndarray, prompts: int, images: int, second: bool = False) -> np.ndarray:
    """The CLIP-score label from the first `prompts` prompts and `images` seeds of one half."""
    half = scores.shape[2] // 2
    seeds = slice(half, half + images) if second else slice(0, images)
    return scores[:, :prompts, seeds].mean(axis=(1, 2))


# ---- cross-validated scores -----------------------------------------------------------------

def cv_scores(zoo_path: Path, tasks: list[tuple], models: list[str], folds: int) -> dict:
    """(task, model) -> (mean, low, high) of the task's metric on the test folds."""
    from lolzoo.lol.cv import CVPlan, run_cv
    from lolzoo.lol.split import parse_fractions
    from lolzoo.lol.train import PAPER_PRESETS
    from lolzoo.report.intervals import metric_interval
    from lolzoo.zoo.load import load_zoo, match_columns

    plan = CVPlan(folds=folds, seeds=(0,))
    found = {}
    for task, kind, targets, preset in tasks:
        columns = match_columns(zoo_path, targets)
        zoo = load_zoo(zoo_path, columns=columns)
        start = {**PAPER_PRESETS.get(preset, {}), "split": parse_fractions("0.8,0.1,0.1")}
        metric = TASK_METRIC[kind]
        if kind == "multiclass":  # what beating the majority class means here: its share of the zoo
            share = zoo.table[columns[0]].value_counts(normalize=True).max()
            found[task, "majority"] = (float(share), math.nan, math.nan)
        for model in models:
            runs = run_cv(model, zoo, kind, columns, start, plan, log=lambda _: None)["runs"]
            runs = [r for r in runs if r["train_fraction"] == 1.0]
            values = [r["metrics"]["test"][metric] for r in runs]
            if not all(np.isfinite(values)):
                found[task, model] = (math.nan, math.nan, math.nan)
                continue
            interval = metric_interval(values, [r["n_train"] for r in runs], [r["n_test"] for r in runs],
                                       metric=metric)
            found[task, model] = (interval.mean, interval.low, interval.high)
    return found


def pack_pilot(path: Path, zoo_name: str, names, loras, labels: list[dict]) -> None:
    import pandas as pd

    from lolzoo.zoo.pack import pack_zoo

    frame = pd.DataFrame([{"lora_id": n, **row} for n, row in zip(names, labels)])
    pack_zoo(zip(names, loras), frame, path, zoo_name, base_model="calibration pilot")


# ---- the sweep ------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", required=True, help="a diffusion zoo of the config (celeba, imagenette, ...)")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--loras", type=int, default=100, help="LoRAs per pilot zoo")
    parser.add_argument("--steps", type=float, nargs="+", default=[1.0], help="factors on max_train_steps")
    parser.add_argument("--lr", type=float, nargs="+", default=[1.0], help="factors on learning_rate")
    parser.add_argument("--eval", nargs="+", default=["base:10"], metavar="SAMPLER:STEPS",
                        help="evaluation points; samplers as zoo.evaluation.sampler (base, ddim, dpm-solver, euler)")
    parser.add_argument("--images", type=int, nargs="+", default=[1, 2], help="images per prompt")
    parser.add_argument("--prompts", type=int, nargs="+", default=None,
                        help="label from the first P prompts (default: all of the zoo's)")
    parser.add_argument("--fit-eval", default=None, metavar="SAMPLER:STEPS",
                        help="the evaluation point the fits' CLIP score comes from (default: the first)")
    parser.add_argument("--models", nargs="+", default=["reference", "svd", "glnet"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "calibration")
    parser.add_argument("--append", action="store_true",
                        help="keep the rows of <out>/<zoo>/sweep.csv (a point measured again replaces its row)")
    args = parser.parse_args()

    import torch

    from lolzoo.bases.loading import load_clip_scorer, load_sd_pipeline
    from lolzoo.config.load import load_config
    from lolzoo.recipes.zoos import zoo_recipes
    from lolzoo.report.reliability import test_retest
    from lolzoo.runtime import quiet_library_progress

    torch.set_num_threads(2)
    quiet_library_progress()
    config = load_config(args.config)
    entry0 = config["zoos"][args.zoo]
    prompts = list(entry0["evaluation"]["prompts"])
    prompt_counts = args.prompts or [len(prompts)]
    guidance = float(entry0["evaluation"].get("guidance_scale", 7.5))
    base_seed = int(entry0["evaluation"].get("seed", 42))
    fit_eval = args.fit_eval or args.eval[0]
    out = args.out / args.zoo
    out.mkdir(parents=True, exist_ok=True)
    base_dir = REPO / "results" / "bases" / entry0["base"]
    clip = load_clip_scorer(REPO / "results" / "bases" / entry0["clip"])
    # the zoo's tasks as the config lists them (the fits' CLIP score comes from the pilot's labels)
    tasks = [(name, spec["kind"], spec["targets"], spec.get("preset"))
             for name, spec in config["lol"]["tasks"][args.zoo].items()]

    rows = []
    earlier = earlier_rows(out / "sweep.csv") if args.append else []
    for steps in args.steps:
        for lr in args.lr:
            entry = pilot_zoo(config, args.zoo, args.loras, steps, lr)
            recipes = zoo_recipes(args.zoo, entry, config["seed"])
            names = [r["lora_id"] for r in recipes]
            images, data_labels = finetune_images(config, entry, recipes)
            pipeline = load_sd_pipeline(base_dir)
            loras, train_s = train_pilot(pipeline, entry, recipes, images)
            print(f"steps x{steps} lr x{lr}: trained {len(loras)} LoRAs in {train_s:.0f} s", file=sys.stderr)
            fit_scores = {}
            for point in args.eval:
                sampler, denoise = point.split(":")
                scores, eval_s = image_scores(pipeline, clip, loras, names, prompts, sampler, int(denoise), guidance,
                                              base_seed, max(args.images))
                per_image_s = eval_s / scores.size
                if point == fit_eval:
                    labelled = [{**row, "clip_score": float(v)}
                                for row, v in zip(data_labels, label(scores, len(prompts), max(args.images)))]
                    with tempfile.TemporaryDirectory() as tmp:
                        path = Path(tmp) / "pilot.parquet"
                        pack_pilot(path, args.zoo, names, loras, labelled)
                        began = time.perf_counter()
                        fit_scores = cv_scores(path, tasks, args.models, args.folds)
                        fit_s = time.perf_counter() - began
                    print(f"  fits on {point}: {fit_s:.0f} s", file=sys.stderr)
                for p in prompt_counts:
                    for i in args.images:
                        first, second = label(scores, p, i), label(scores, p, i, second=True)
                        rel = test_retest(first, second, min_loras=min(30, len(first)))
                        row = {"steps_x": steps, "lr_x": lr, "loras": len(loras),
                               "finetune_s_per_lora": train_s / len(loras),
                               "sampler": sampler, "denoise_steps": int(denoise), "prompts": p, "images": i,
                               "eval_s_per_lora": per_image_s * p * i,
                               "clip_mean": float(first.mean()), "clip_std": float(first.std()),
                               "reliability": rel.reliability, "rel_low": rel.reliability_low,
                               "rel_high": rel.reliability_high}
                        if point == fit_eval and p == len(prompts) and i == max(args.images):
                            for (task, model), (mean, low, high) in fit_scores.items():
                                row[f"{task}:{model}"] = f"{mean:.3f}" if math.isnan(low) else \
                                    f"{mean:.3f} [{low:.3f}, {high:.3f}]"
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr)
            write_outputs(out, merged(earlier, rows))
    print(table_text(merged(earlier, rows)))


POINT = ("loras", "steps_x", "lr_x", "sampler", "denoise_steps", "prompts", "images")  # what a row measured


def earlier_rows(path: Path) -> list[dict]:
    import pandas as pd

    if not path.is_file():
        return []
    return [{k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
            for row in pd.read_csv(path).to_dict("records")]


def merged(earlier: list[dict], rows: list[dict]) -> list[dict]:
    """The earlier rows, less those of a point measured again, then the new rows."""
    again = {tuple(row[k] for k in POINT) for row in rows}
    return [row for row in earlier if tuple(row[k] for k in POINT) not in again] + rows


def write_outputs(out: Path, rows: list[dict]) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame.to_csv(out / "sweep.csv", index=False)
    (out / "sweep.md").write_text(table_text(rows) + "\n")
    figure(frame, out / "sweep.png")


def table_text(rows: list[dict]) -> str:
    import pandas as pd

    frame = pd.DataFrame(rows).copy()
    for column in ("finetune_s_per_lora", "eval_s_per_lora", "clip_mean", "clip_std"):
        frame[column] = frame[column].map(lambda v: f"{v:.2f}")
    frame["reliability"] = [f"{r:.2f} [{lo:.2f}, {hi:.2f}]" for r, lo, hi in
                            zip(frame.pop("reliability"), frame.pop("rel_low"), frame.pop("rel_high"))]
    frame = frame.fillna("").replace(r" \[nan, nan\]$", "", regex=True)  # a share (the majority class) has no interval
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    lines = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return header + "\n" + "\n".join(lines)


def figure(frame, path: Path) -> None:
    """Reliability against evaluation cost per LoRA, one line per finetuning × sampler point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (steps, lr, sampler, denoise), group in frame.groupby(["steps_x", "lr_x", "sampler", "denoise_steps"]):
        group = group.sort_values("eval_s_per_lora")
        ax.errorbar(group["eval_s_per_lora"], group["reliability"],
                    yerr=[group["reliability"] - group["rel_low"], group["rel_high"] - group["reliability"]],
                    marker="o", capsize=2, label=f"steps ×{steps:g}, lr ×{lr:g}, {sampler} {denoise}")
    ax.axhline(0.9, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("evaluation seconds per LoRA (P prompts × I images)")
    ax.set_ylabel("CLIP-score test-retest reliability")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
