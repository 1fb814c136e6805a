"""A hand-built `lolzoo fit` folder: just the metrics settings and predictions a report reads."""

import json

import pandas as pd


def write_fit(folder, rows, task="regression", targets=("clip_score",), model="glnet", seed=0, zoo="celeba"):
    """rows: (lora_id, split, label or None, prediction) of the first target; other targets get zeros."""
    folder.mkdir(parents=True)
    settings = {"task": task, "targets": list(targets), "model": model, "seed": seed, "zoo_name": zoo}
    (folder / "metrics.json").write_text(json.dumps({"settings": settings}))
    frame = pd.DataFrame([{"lora_id": lora_id, "split": split, "target": target,
                           "label": label if target == targets[0] else 0.0,
                           "prediction": prediction if target == targets[0] else 0.0}
                          for lora_id, split, label, prediction in rows for target in targets])
    frame["label"] = frame["label"].astype("float64")
    frame.to_parquet(folder / "predictions.parquet", index=False)
    return folder
