"""Which trained run a fit folder publishes, and its files copied into the exported folder.

FIT_DIR is one of
- a `lolzoo fit-cv` folder (cv.json): its full-share runs are fold<k>/seed<s>/ fit folders; the
  default is fold 0 with its lowest seed (the selection seed: the run the setting was chosen
  with), `fold` / `seed` choose another;
- a single `lolzoo fit` folder (metrics.json and the model files): that run.

The export copies model.safetensors and model.json byte for byte (checked by sha256 after the
copy) and loads the copy back as `lolzoo predict` will, so a folder that is written is one that
scores exactly as the fit folder did. Everything is staged and renamed at once (io.atomic_dir).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from lolzoo.errors import LolzooError, UserError
from lolzoo.io import atomic_dir
from lolzoo.lol.artifacts import CONFIG_FILE, WEIGHTS_FILE, load_model_folder
from lolzoo.lol.results import CV_FILE, METRICS_FILE

CARD_FILE = "README.md"  # the name a model hub shows as the card
MODEL_FILES = (WEIGHTS_FILE, CONFIG_FILE)


class ExportError(LolzooError):
    """A fit folder that cannot be published as asked (no such run, a damaged or changed copy)."""


@dataclass(frozen=True)
class PublishedRun:
    """The fit folder whose model is published, and where it sits in its cross-validation."""
    source: Path  # FIT_DIR as given
    folder: Path  # the `lolzoo fit` folder holding the model files
    fold: int
    seed: int
    folds: int  # 1 for a fixed split
    cv: dict | None  # the fit-cv folder's cv.json; None for a single fit

    @property
    def metrics(self) -> dict:
        """The run's own metrics.json."""
        return _read_json(self.folder / METRICS_FILE)


def choose_run(fit_dir: Path, fold: int | None = None, seed: int | None = None) -> PublishedRun:
    """The run to publish (see the module doc); a one-line ExportError when there is none."""
    fit_dir = Path(fit_dir)
    if (fit_dir / CV_FILE).is_file():
        return _cv_run(fit_dir, fold, seed)
    if (fit_dir / METRICS_FILE).is_file():
        if fold is not None or seed is not None:
            raise UserError(f"{fit_dir} is a single `lolzoo fit` folder: --fold and --seed choose among the runs "
                            f"of a `lolzoo fit-cv` folder")
        settings = _read_json(fit_dir / METRICS_FILE).get("settings", {})
        _require_model_files(fit_dir)
        return PublishedRun(fit_dir, fit_dir, int(settings.get("fold") or 0), int(settings.get("seed") or 0),
                            int(settings.get("folds") or 1), None)
    raise ExportError(f"{fit_dir}: not a `lolzoo fit` folder (no {METRICS_FILE}) nor a `lolzoo fit-cv` folder "
                      f"(no {CV_FILE})")


def _cv_run(fit_dir: Path, fold: int | None, seed: int | None) -> PublishedRun:
    document = _read_json(fit_dir / CV_FILE)
    try:
        settings = document["settings"]
        # the full-share runs with a saved model; the learning-curve runs and the reference save none
        saved = {(int(run["fold"]), int(run["seed"])): str(run["dir"]) for run in document["runs"]
                 if float(run["train_fraction"]) == 1.0 and run.get("dir")}
        folds = int(settings["folds"])
    except (KeyError, TypeError, ValueError) as err:
        raise ExportError(f"{fit_dir / CV_FILE}: not a cv.json of `lolzoo fit-cv` ({err!r})") from err
    if not saved:
        raise ExportError(f"{fit_dir}: a `lolzoo fit-cv` folder of the {settings.get('model')} model holds no "
                          f"trained network to publish")
    fold = min(f for f, _ in saved) if fold is None else fold
    seeds = sorted(s for f, s in saved if f == fold)
    if not seeds:
        raise UserError(f"--fold {fold}: {fit_dir} has folds {sorted({f for f, _ in saved})}")
    seed = seeds[0] if seed is None else seed
    if (fold, seed) not in saved:
        raise UserError(f"--seed {seed}: fold {fold} of {fit_dir} has seeds {seeds}")
    folder = fit_dir / saved[(fold, seed)]
    _require_model_files(folder)
    return PublishedRun(fit_dir, folder, fold, seed, folds, document)


def _require_model_files(folder: Path) -> None:
    missing = [name for name in (*MODEL_FILES, METRICS_FILE) if not (folder / name).is_file()]
    if missing:
        raise ExportError(f"{folder}: the fit folder lacks {', '.join(missing)}")


def write_export(run: PublishedRun, out: Path, card: str, digests: dict[str, str], overwrite: bool = False) -> None:
    """model.safetensors and model.json copied, README.md written, all at once into `out`. Each copy
    must have the sha256 in `digests` (what the card states, hashed from the fit folder)."""
    out = Path(out)
    check_out(run, out, overwrite)
    with atomic_dir(out, overwrite=overwrite) as staging:
        for name in MODEL_FILES:
            shutil.copyfile(run.folder / name, staging / name)
            if sha256(staging / name) != digests[name]:
                raise ExportError(f"{run.folder / name}: its copy's sha256 is not the one the card states "
                                  f"(the file changed while exporting?)")
        load_model_folder(staging)  # the copy loads strictly, as `lolzoo predict --model` will read it
        (staging / CARD_FILE).write_text(card)


def check_out(run: PublishedRun, out: Path, overwrite: bool) -> None:
    """--out must be new or empty (or --overwrite), and never the fit folder or inside or around it:
    replacing it would delete the fit being published."""
    out_abs, source = Path(out).resolve(), run.source.resolve()
    if out_abs == source or source in out_abs.parents or out_abs in source.parents:
        raise UserError(f"--out {out}: overlaps the fit folder {run.source}; export to a folder of its own")
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(f"--out {out}: folder exists and is not empty (pass --overwrite to replace it)")


def sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _read_json(path: Path) -> dict:
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ExportError(f"{path}: not JSON ({err})") from err
    if not isinstance(document, dict):
        raise ExportError(f"{path}: not a JSON object")
    return document
