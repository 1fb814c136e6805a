"""From a loaded Zoo and target columns to what training needs: a LoraBatch and a label array.

Rows with a missing value in any target column are left out of training and evaluation (their
count is reported); every LoRA of the zoo is still available for prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lolzoo.lol.base import LoraBatch
from lolzoo.lol.tasks import TaskError, task_class
from lolzoo.zoo.load import Zoo
from lolzoo.zoo.schema import ID_COLUMN


@dataclass
class ZooData:
    lora_ids: list[str]  # every LoRA of the zoo, in zoo order
    batch: LoraBatch  # every LoRA's (U, V), float32, α/r folded in (and DoRA magnitudes, if any)
    labelled: np.ndarray  # bool per LoRA: all targets present
    labels: np.ndarray  # (labelled LoRAs, targets), the task's label array

    @property
    def dropped(self) -> int:
        return int((~self.labelled).sum())


def zoo_batch(zoo: Zoo) -> LoraBatch:
    """All of a zoo's LoRAs as one LoraBatch (views of the zoo's tensors when they are float32)."""
    if not zoo.scaling_folded:
        raise TaskError(f"{zoo.path}: load the zoo with fold_scaling=True: LoL models read ΔW = U Vᵀ")
    magnitudes = None if zoo.magnitudes is None else [m.to(torch.float32) for m in zoo.magnitudes]
    return LoraBatch([u.to(torch.float32) for u in zoo.U], [v.to(torch.float32) for v in zoo.V], magnitudes)


def zoo_data(zoo: Zoo, task_kind: str, targets: list[str]) -> ZooData:
    missing = [t for t in targets if t not in zoo.table.columns]
    if missing:
        available = [c for c in zoo.table.columns if c != ID_COLUMN]
        raise TaskError(f"{zoo.path}: no target column(s) {missing}; columns: {', '.join(available)}")
    if len(set(targets)) != len(targets):
        raise TaskError(f"target columns listed twice: {targets}")
    frame = zoo.table[list(targets)]
    labelled = frame.notna().all(axis=1).to_numpy(copy=True)  # writable: torch views it
    if not labelled.any():
        raise TaskError(f"{zoo.path}: no LoRA has every target {targets}")
    labels = task_class(task_kind).read_labels(frame[labelled])
    return ZooData(zoo.lora_ids, zoo_batch(zoo), labelled, labels)
