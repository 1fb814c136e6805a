"""How a diffusion zoo's data tasks score as the zoo grows: the learning curve that says what zoo
size a target needs (issue 19).

One pilot zoo of --loras LoRAs is built in this process with the project's own code, as the
calibration sweep builds its pilots (benchmarks/calibrate_diffusion.py: the zoo's recipe with its
steps and learning rates scaled, its finetuning data, batched finetuning in shards of the zoo's
shard_size). It is labelled by its finetuning data alone: no sampling, so the tasks are those of
the zoo whose targets are data labels (celeba's attributes, imagenette's classes and dataset
size). Recipes are independent draws, so the first n LoRAs are a random zoo of n: for every n in
--sizes the ridge reference and the LoL models are cross-validated on them (--folds folds, one
seed, each task's paper preset), with intervals over the folds.

Last, for each task the best model at the largest size is followed down the sizes, and the
score's gain per doubling of the zoo (a weighted least-squares slope on log2 of the size, with
its interval) is the trend a bigger zoo would follow if it stayed log-linear; the table says how many more doublings the task's goal then
needs (--target for AUROC; for dataset size, the majority class's share plus the best model's
interval half-width), or that the measured trend does not reach it (a gain whose interval
reaches 0).

    python benchmarks/zoo_size_curve.py --zoo celeba --loras 800 --sizes 100 200 400 800 \
        [--steps 1] [--lr 1] [--models reference svd glnet dense] [--folds 5] [--target 0.8]

Writes <out>/<zoo>/size_curve.csv (one row per size × task × model), size_curve.md (the table,
then the trend per task) and size_curve.png, named size_curve-steps<x>-lr<y>.* for a scaled
recipe; prints the markdown. `--from-csv <out>/<zoo>/size_curve.csv` writes the table, trend and
figure again from the csv, without training. Time it on an idle machine.
"""

from __future__ import annotations

import argparse
import fnmatch
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from calibrate_diffusion import REPO, TASK_METRIC, cv_scores, finetune_images, pack_pilot, pilot_zoo, train_pilot

CHANCE = {"auroc": 0.5}  # a task without a majority class (AUROC) is compared with chance


def data_tasks(tasks: dict, label_columns: list[str]) -> list[tuple]:
    """The config's tasks whose every target pattern names a data label, as cv_scores takes them."""
    found = []
    for name, spec in tasks.items():
        if all(fnmatch.filter(label_columns, pattern) for pattern in spec["targets"]):
            found.append((name, spec["kind"], spec["targets"], spec.get("preset")))
    return found


def train_zoo(config: dict, entry: dict, recipes: list[dict], base_dir: Path) -> tuple[list, list[dict], float]:
    """The pilot's LoRAs and data labels, trained shard by shard as the world trains them."""
    from lolzoo.bases.loading import load_sd_pipeline

    pipeline = load_sd_pipeline(base_dir)
    size = int(entry.get("shard_size", 50))
    loras, labels, seconds = [], [], 0.0
    for start in range(0, len(recipes), size):
        part = recipes[start:start + size]
        images, part_labels = finetune_images(config, entry, part)
        trained, train_s = train_pilot(pipeline, entry, part, images)
        loras += trained
        labels += part_labels
        seconds += train_s
        print(f"  trained {len(loras)}/{len(recipes)} LoRAs ({seconds:.0f} s)", file=sys.stderr)
    return loras, labels, seconds


def curve_rows(names, loras, labels, zoo: str, tasks: list[tuple], models: list[str], sizes: list[int],
               folds: int) -> list[dict]:
    """One row per (size, task, model): the cross-validated mean and interval on the first `size` LoRAs."""
    rows, kinds = [], {task: kind for task, kind, _, _ in tasks}
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "pilot.parquet"
            pack_pilot(path, zoo, names[:size], loras[:size], labels[:size])
            began = time.perf_counter()
            scores = cv_scores(path, tasks, models, folds)
        print(f"  fits on {size} LoRAs: {time.perf_counter() - began:.0f} s", file=sys.stderr)
        for (task, model), (mean, low, high) in scores.items():
            rows.append({"loras": size, "task": task, "metric": TASK_METRIC[kinds[task]], "model": model,
                         "mean": mean, "low": low, "high": high})
    return rows


def trend(rows: list[dict], target: float) -> list[dict]:
    """Per task: the best model at the largest size, its gain per doubling of the zoo, and the
    doublings past the largest size that reach the task's goal if the gain stays log-linear.

    The gain is the weighted least-squares slope of that model's score on log2(size) over every
    size, each point weighted by its interval (a 95% interval's half-width is 1.96 standard
    errors), with a 95% interval from the slope's standard error. The goal is `target` for AUROC;
    for a multiclass accuracy it is the majority class's share plus the best model's interval
    half-width at the largest size (where its interval would clear the majority, if the interval
    did not narrow)."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    found = []
    for task, group in frame.groupby("task", sort=False):
        models = group[group["model"] != "majority"]
        sizes = sorted(models["loras"].unique())
        largest = models[models["loras"] == sizes[-1]]
        best = largest.loc[largest["mean"].idxmax()]
        half_width = (best["high"] - best["low"]) / 2
        majority = group[(group["model"] == "majority") & (group["loras"] == sizes[-1])]["mean"]
        goal = target if best["metric"] in CHANCE or majority.empty else float(majority.iloc[0]) + half_width
        row = {"task": task, "metric": best["metric"], "best_model": best["model"], "loras": int(sizes[-1]),
               "score": float(best["mean"]), "goal": goal}
        if best["mean"] >= goal:
            row["doublings_to_goal"] = 0.0
        line = models[models["model"] == best["model"]]
        if len(sizes) < 2:
            found.append(row)
            continue
        x = np.log2(line["loras"].to_numpy(float))
        se = np.maximum((line["high"] - line["low"]).to_numpy(float) / (2 * 1.96), 1e-6)
        weights = 1 / se ** 2
        centre = np.average(x, weights=weights)
        spread = float(np.sum(weights * (x - centre) ** 2))
        gain = float(np.sum(weights * (x - centre) * line["mean"].to_numpy(float)) / spread)
        half = 1.96 / math.sqrt(spread)
        row.update(gain_per_doubling=gain, gain_low=gain - half, gain_high=gain + half)
        if best["mean"] < goal and gain - half > 0:
            row["doublings_to_goal"] = (goal - best["mean"]) / gain
        found.append(row)
    return found


def trend_text(trends: list[dict]) -> str:
    lines = ["| task | metric | best model | at LoRAs | score | goal | gain per doubling | to reach the goal |",
             "|---|---|---|---|---|---|---|---|"]
    for t in trends:
        gain = "" if "gain_per_doubling" not in t else \
            f"{t['gain_per_doubling']:+.3f} [{t['gain_low']:+.3f}, {t['gain_high']:+.3f}]"
        doublings = t.get("doublings_to_goal")
        if doublings is None:
            reach = "not reached: the measured gain's interval reaches 0" if gain else "one size only"
        elif doublings == 0:
            reach = "reached"
        else:
            reach = f"{doublings:.1f} more doublings (about {t['loras'] * 2 ** doublings:,.0f} LoRAs)"
        lines.append(f"| {t['task']} | {t['metric']} | {t['best_model']} | {t['loras']} | {t['score']:.3f} "
                     f"| {t['goal']:.3f} | {gain} | {reach} |")
    return "\n".join(lines)


def table_text(rows: list[dict]) -> str:
    """Sizes as columns, one line per (task, model): mean [low, high]."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    frame["cell"] = [f"{m:.3f}" if math.isnan(lo) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                     for m, lo, hi in zip(frame["mean"], frame["low"], frame["high"])]
    wide = frame.pivot_table(index=["task", "metric", "model"], columns="loras", values="cell", aggfunc="first",
                             sort=False)
    header = "| task | metric | model | " + " | ".join(f"{c} LoRAs" for c in wide.columns) + " |"
    lines = [header, "|" + "---|" * (3 + len(wide.columns))]
    for (task, metric, model), cells in wide.iterrows():
        lines.append(f"| {task} | {metric} | {model} | " + " | ".join(str(c) for c in cells.fillna("")) + " |")
    return "\n".join(lines)


def figure(rows: list[dict], target: float, path: Path) -> None:
    """Score against zoo size (log scale), one panel per task, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    frame = pd.DataFrame(rows)
    tasks = list(dict.fromkeys(frame["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        group = frame[frame["task"] == task]
        metric = group["metric"].iloc[0]
        for model, line in group.groupby("model", sort=False):
            line = line.sort_values("loras")
            if model == "majority":
                ax.plot(line["loras"], line["mean"], color="grey", linestyle=":", label="majority class")
                continue
            ax.errorbar(line["loras"], line["mean"], yerr=[line["mean"] - line["low"], line["high"] - line["mean"]],
                        marker="o", capsize=2, label=model)
        if metric in CHANCE:
            ax.axhline(CHANCE[metric], color="grey", linestyle=":", linewidth=1, label="chance")
            ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:g}")
        ax.set_xscale("log", base=2)
        sizes = sorted(group["loras"].unique())
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("LoRAs in the zoo")
        ax.set_ylabel(f"cross-validated {metric}")
        ax.set_title(task)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", help="a diffusion zoo of the config (celeba, imagenette, ...)")
    parser.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    parser.add_argument("--loras", type=int, default=800, help="LoRAs in the pilot (the largest size)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 400, 800],
                        help="zoo sizes to cross-validate on (the pilot's first n LoRAs)")
    parser.add_argument("--steps", type=float, default=1.0, help="factor on max_train_steps")
    parser.add_argument("--lr", type=float, default=1.0, help="factor on learning_rate")
    parser.add_argument("--models", nargs="+", default=["reference", "svd", "glnet", "dense"])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--target", type=float, default=0.8, help="the AUROC the trend is asked to reach")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "calibration")
    parser.add_argument("--from-csv", type=Path, default=None, metavar="CSV",
                        help="no training: write the table, trend and figure again from a size_curve csv")
    args = parser.parse_args()
    if not (args.zoo or args.from_csv):
        parser.error("give --zoo (or --from-csv)")
    if args.from_csv:
        import pandas as pd

        rows = pd.read_csv(args.from_csv).to_dict("records")
        first = rows[0]
        write_outputs(args.from_csv.with_suffix(""), rows, args.target, first["steps_x"], first["lr_x"],
                      first["finetune_s_per_lora"], args.folds)
        return
    # the fits hold out a tenth of each fold's training LoRAs for validation: at least one
    smallest = math.ceil(10 * args.folds / (args.folds - 1)) if args.folds > 1 else 10
    if max(args.sizes) > args.loras or min(args.sizes) < smallest:
        parser.error(f"--sizes must lie between {smallest} (for {args.folds} folds) and --loras ({args.loras})")

    import pandas as pd
    import torch

    from lolzoo.config.load import load_config
    from lolzoo.recipes.zoos import zoo_recipes
    from lolzoo.runtime import quiet_library_progress

    torch.set_num_threads(2)
    quiet_library_progress()
    config = load_config(args.config)
    entry = pilot_zoo(config, args.zoo, args.loras, args.steps, args.lr)
    recipes = zoo_recipes(args.zoo, entry, config["seed"])
    names = [r["lora_id"] for r in recipes]
    loras, labels, train_s = train_zoo(config, entry, recipes, REPO / "results" / "bases" / entry["base"])
    tasks = data_tasks(config["lol"]["tasks"][args.zoo], list(labels[0]))
    if not tasks:
        sys.exit(f"zoo {args.zoo!r} has no task on its data labels ({', '.join(labels[0])})")
    rows = curve_rows(names, loras, labels, args.zoo, tasks, args.models, sorted(set(args.sizes)), args.folds)
    for row in rows:
        row.update(steps_x=args.steps, lr_x=args.lr, finetune_s_per_lora=train_s / len(loras))
    out = args.out / args.zoo
    out.mkdir(parents=True, exist_ok=True)
    stem = "size_curve" + ("" if (args.steps, args.lr) == (1.0, 1.0) else f"-steps{args.steps:g}-lr{args.lr:g}")
    write_outputs(out / stem, rows, args.target, args.steps, args.lr, train_s / len(loras), args.folds)


def write_outputs(stem: Path, rows: list[dict], target: float, steps: float, lr: float, finetune_s: float,
                  folds: int) -> None:
    """<stem>.csv, .md (table and trend) and .png; prints the markdown."""
    import pandas as pd

    pd.DataFrame(rows).to_csv(stem.with_suffix(".csv"), index=False)
    trends = trend([r for r in rows if np.isfinite(r["mean"])], target)
    text = (f"steps ×{steps:g}, lr ×{lr:g}, {folds} folds, one seed; finetuning {finetune_s:.2f} s per LoRA\n\n"
            + table_text(rows) + "\n\n" + trend_text(trends))
    stem.with_suffix(".md").write_text(text + "\n")
    figure(rows, target, stem.with_suffix(".png"))
    print(text)


if __name__ == "__main__":
    main()
