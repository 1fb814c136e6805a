"""Export -> `datasets` -> back to a zoo file: the same tensors and table, and identical fits."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from lolzoo.cli import main
from lolzoo.zoo.load import load_zoo
from tests.publish.export_helpers import write_zoo
from tests.small_zoo import fit_small, write_small_zoo


def round_trip(zoo, tmp_path):
    assert main(["export", str(zoo), "--out", str(tmp_path / "export"), "--shard-bytes", "4000"]) == 0
    assert main(["import-zoo", str(tmp_path / "export"), "--out", str(tmp_path / "back.parquet")]) == 0
    return tmp_path / "back.parquet"


@pytest.mark.parametrize("kind", ["mixed", "dora"])
def test_import_gives_the_same_zoo(tmp_path, kind):
    zoo = write_zoo(tmp_path / "zoo.parquet", kind)
    original, back = load_zoo(zoo), load_zoo(round_trip(zoo, tmp_path))
    for name in ("U", "V") + (("magnitudes",) if kind == "dora" else ()):
        assert all(torch.equal(a, b) for a, b in zip(getattr(original, name), getattr(back, name)))
    assert torch.equal(original.ranks, back.ranks) and torch.equal(original.scales, back.scales)
    unfolded = [load_zoo(path, fold_scaling=False) for path in (zoo, tmp_path / "back.parquet")]
    assert torch.equal(unfolded[0].scales, unfolded[1].scales)
    pd.testing.assert_frame_equal(original.table, back.table)  # module_alphas included
    assert back.info == original.info
    assert pq.read_schema(zoo).equals(pq.read_schema(tmp_path / "back.parquet"), check_metadata=True)
    assert pq.read_table(zoo).equals(pq.read_table(tmp_path / "back.parquet"))


def test_round_trip_gives_identical_fits(tmp_path):
    zoo = write_small_zoo(tmp_path / "small.parquet", 60, ranks=(2, 4))
    back = round_trip(zoo, tmp_path)
    fits = [fit_small(path, tmp_path / f"fit-{path.stem}", "glnet", "--epochs", 2, "--hparam", "hidden=[8]")
            for path in (zoo, back)]
    metrics = [json.loads((fit / "metrics.json").read_text())["metrics"] for fit in fits]
    assert metrics[0] == metrics[1]
    predictions = [pd.read_parquet(fit / "predictions.parquet") for fit in fits]
    pd.testing.assert_frame_equal(*predictions)
