"""A zoo of DoRA adapters: the magnitudes column round-trips, and one zoo holds one kind."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from lolzoo.lol.data import zoo_batch
from lolzoo.lora.testing import language_like_lora, with_magnitudes
from lolzoo.zoo import ZooFormatError, load_zoo, pack_zoo, read_zoo_info
from lolzoo.zoo.schema import MAGNITUDES_COLUMN, SCHEMA_VERSION


def dora_entries(count=5):
    return [(f"d{i}", with_magnitudes(language_like_lora(seed=i), seed=i)) for i in range(count)]


@pytest.mark.parametrize("row_group_bytes", [1 << 30, 1500], ids=["one_row_group", "many_row_groups"])
def test_magnitudes_round_trip(tmp_path, row_group_bytes):
    entries = dora_entries()
    labels = pd.DataFrame({"lora_id": [i for i, _ in entries], "y": [float(i) for i in range(len(entries))]})
    path = pack_zoo(entries, labels, tmp_path / "dora.parquet", "dora", None, row_group_bytes=row_group_bytes).path
    info = read_zoo_info(path)
    assert info.dora and info.schema_version == SCHEMA_VERSION
    assert pq.ParquetFile(path).metadata.num_row_groups == (1 if row_group_bytes > 1 << 20 else 5)
    zoo = load_zoo(path)
    assert MAGNITUDES_COLUMN not in zoo.table.columns  # weights-like columns are not table columns
    for row, (_, lora) in enumerate(entries):
        for k, module in enumerate(lora.modules):
            assert torch.equal(zoo.magnitudes[k][row], module.magnitude)
    batch = zoo_batch(zoo)
    assert [tuple(m.shape) for m in batch.magnitudes] == [(5, 16)] * 6


def test_plain_zoo_has_no_magnitudes(tmp_path):
    entries = [(f"p{i}", language_like_lora(seed=i)) for i in range(3)]
    path = pack_zoo(entries, None, tmp_path / "plain.parquet", "plain", None).path
    assert MAGNITUDES_COLUMN not in pq.ParquetFile(path).schema_arrow.names
    assert load_zoo(path).magnitudes is None and zoo_batch(load_zoo(path)).magnitudes is None


def test_dora_and_plain_do_not_mix(tmp_path):
    entries = dora_entries(2) + [("plain", language_like_lora(seed=9))]
    with pytest.raises(ZooFormatError, match="'plain' is a plain LoRA but lora 'd0' is a DoRA adapter"):
        pack_zoo(entries, None, tmp_path / "mixed.parquet", "mixed", None)
    assert not (tmp_path / "mixed.parquet").exists()


def test_an_older_lolzoo_refuses_a_dora_zoo(tmp_path, monkeypatch):
    path = pack_zoo(dora_entries(2), None, tmp_path / "dora.parquet", "dora", None).path
    monkeypatch.setattr("lolzoo.zoo.schema.SCHEMA_VERSION", 1)
    with pytest.raises(ZooFormatError, match="schema version 2 is newer"):
        read_zoo_info(path)


def test_a_non_finite_magnitude_is_refused_naming_the_lora(tmp_path):
    entries = dora_entries(3)
    entries[1][1].modules[2].magnitude[0] = float("nan")
    with pytest.raises(ZooFormatError, match=r"lora 'd1': .*1 non-finite \(NaN/Inf\) values in the DoRA magnitude"):
        pack_zoo(entries, None, tmp_path / "nan.parquet", "nan", None)
    assert not (tmp_path / "nan.parquet").exists()
