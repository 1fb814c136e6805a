"""The paper's figure 3: the base model's samples next to those of the test LoRAs a LoL model
predicts best and worst on the CLIP score, a row per model (base, best, worst) and a column per
prompt. The LoRAs are picked here from one fit's predictions; their images come from the
zoo's own evaluation settings (extremes_figure_cli), so they are the images the score was
computed on. The figure says what the model predicted and what the evaluation measured, so a
reader sees whether "predicted best" also looks and scores best."""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lolzoo.errors import LolzooError
from lolzoo.lol.results import METRICS_FILE, PREDICTIONS_FILE, fit_folders
from lolzoo.report.compare import MODEL_NAMES

TARGET = "clip_score"
SPLIT = "test"
DISPLAY_PIXELS = 128  # the tiny bases sample 32 px: upscaled (nearest) so the pixels stay honest
PANEL = 1.6  # inches per image
TITLE_WIDTH = 22  # characters per line of a prompt title
TITLE_LENGTH = 60  # longer prompts are shortened


class ExtremesError(LolzooError):
    """A fit or a LoRA folder the figure cannot be drawn from."""


@dataclass(frozen=True)
class Fit:
    """What the figure needs of one `lolzoo fit` folder."""

    folder: Path
    zoo: str
    model: str
    seed: int
    targets: tuple[str, ...]
    predictions: pd.DataFrame


@dataclass(frozen=True)
class Pick:
    """One chosen LoRA: its rank ("best" or "worst"), predicted and, if labelled, true CLIP score."""

    lora_id: str
    kind: str
    predicted: float
    true: float | None


def read_clip_fit(folder: str | Path) -> Fit:
    """A fit of a regression task whose targets include the CLIP score, or a one-line error.
    A `lolzoo fit-cv` folder stands for one of its fits: fold 0 at its lowest seed."""
    folder = Path(folder)
    fits = fit_folders(folder)
    if fits:
        folder = fits[0]  # fit_folders orders by fold, then seed
    metrics_path, predictions_path = folder / METRICS_FILE, folder / PREDICTIONS_FILE
    if not metrics_path.is_file() or not predictions_path.is_file():
        raise ExtremesError(f"{folder}: not a `lolzoo fit` output (needs {METRICS_FILE} and {PREDICTIONS_FILE})")
    try:
        settings = json.loads(metrics_path.read_text())["settings"]
        kind, targets = settings["task"], tuple(settings["targets"])
        fit = Fit(folder, settings["zoo_name"], settings["model"], int(settings["seed"]), targets,
                  pd.read_parquet(predictions_path))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ExtremesError(f"{metrics_path}: not a metrics file of `lolzoo fit` ({err})") from err
    if kind != "regression" or TARGET not in targets:
        raise ExtremesError(f"{folder}: a {kind} fit of {', '.join(targets)}; the figure needs a regression "
                            f"fit whose targets include {TARGET}")
    return fit


def pick_extremes(predictions: pd.DataFrame, count: int) -> list[Pick]:
    """The `count` test LoRAs predicted highest, then the `count` lowest, all from the highest
    prediction down. With fewer than 2·count test LoRAs, the best get the larger half; none overlap."""
    if count < 1:
        raise ExtremesError(f"--count {count}: must be at least 1")
    rows = predictions[(predictions["split"] == SPLIT) & (predictions["target"] == TARGET)]
    if rows.empty:
        raise ExtremesError(f"no {SPLIT}-split LoRA has a {TARGET} prediction: there is nothing to pick from")
    # highest prediction first; ties by lora_id, so the choice is reproducible
    ranked = rows.sort_values(["prediction", "lora_id"], ascending=[False, True], kind="stable")
    best_count = min(count, math.ceil(len(ranked) / 2))
    worst_count = min(count, len(ranked) - best_count)
    best = ranked.iloc[:best_count]
    worst = ranked.iloc[len(ranked) - worst_count:]
    return [_pick(row, kind) for kind, chosen in (("best", best), ("worst", worst)) for row in chosen.itertuples()]


def _pick(row, kind: str) -> Pick:
    true = None if pd.isna(row.label) else float(row.label)
    return Pick(str(row.lora_id), kind, float(row.prediction), true)


def find_lora_dirs(lora_ids, shard_dirs) -> dict[str, Path]:
    """lora_id -> its folder in one of the shard folders (<shard>/<lora_id>/)."""
    found = {}
    for lora_id in lora_ids:
        folders = [Path(shard) / lora_id for shard in shard_dirs if (Path(shard) / lora_id).is_dir()]
        if not folders:
            raise ExtremesError(f"{lora_id}: no LoRA folder in any of the {len(shard_dirs)} --loras folders")
        found[lora_id] = folders[0]
    return found


def row_label(pick: Pick) -> str:
    true = f"true {pick.true:.1f}" if pick.true is not None else "true: not labelled"
    return f"{pick.kind}: {pick.lora_id}\npredicted {pick.predicted:.1f}\n{true}"


def prompt_title(prompt: str) -> str:
    return textwrap.fill(textwrap.shorten(prompt, TITLE_LENGTH, placeholder="…"), TITLE_WIDTH)


def upscaled(image) -> np.ndarray:
    """(3, H, W) floats in [0, 1] -> (H·f, W·f, 3) bytes, each pixel an f×f block."""
    pixels = (np.asarray(image).transpose(1, 2, 0) * 255).round().clip(0, 255).astype(np.uint8)
    factor = max(1, DISPLAY_PIXELS // max(pixels.shape[:2]))
    return pixels.repeat(factor, axis=0).repeat(factor, axis=1)


def extremes_figure(prompts, base_images, picks: list[Pick], lora_images, fit: Fit):
    """A matplotlib Figure: base_images is (P, 3, H, W), lora_images (len(picks), P, 3, H, W)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = [("base (no LoRA)", base_images, "black")]
    colours = {"best": "#2a7a2a", "worst": "#b03030"}
    rows += [(row_label(pick), images, colours[pick.kind]) for pick, images in zip(picks, lora_images)]
    figure, axes = plt.subplots(len(rows), len(prompts), figsize=(PANEL * len(prompts) + 1.6, PANEL * len(rows)),
                                squeeze=False, constrained_layout=True)
    for row, (label, images, colour) in enumerate(rows):
        for col, prompt in enumerate(prompts):
            axis = axes[row][col]
            axis.imshow(upscaled(images[col]), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(prompt_title(prompt), fontsize=7)
            if col == 0:
                axis.set_ylabel(label, fontsize=7, color=colour, rotation=0, ha="right", va="center")
    model = MODEL_NAMES.get(fit.model, fit.model)
    figure.suptitle(f"{fit.zoo}: the base and the {SPLIT} LoRAs {model} (seed {fit.seed}) predicts best "
                    "and worst on CLIP score", fontsize=9)
    return figure


def extremes_document(fit: Fit, picks: list[Pick], prompts, base: str | Path) -> dict:
    """The JSON beside the figure: which LoRAs, why (their scores), and from what."""
    return {
        "fit": str(fit.folder), "zoo": fit.zoo, "model": fit.model, "seed": fit.seed, "targets": list(fit.targets),
        "target": TARGET, "split": SPLIT, "base": str(base), "prompts": list(prompts),
        **{kind: [{"lora_id": p.lora_id, "predicted": p.predicted, "true": p.true} for p in picks if p.kind == kind]
           for kind in ("best", "worst")},
    }
