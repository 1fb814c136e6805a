"""An export loads with `datasets` (or pandas) alone and the card's own decoder, into exactly the tensors
lolzoo.zoo.load_zoo gives; it streams the zoo row group by row group."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from lolzoo.lol.split import assign_splits
from lolzoo.publish import zoo_export
from lolzoo.publish.hf_layout import HUB_SPLITS
from lolzoo.publish.zoo_export import export_zoo
from lolzoo.zoo.load import load_zoo
from tests.publish.export_helpers import card_decoder, load_hf, write_zoo

datasets = pytest.importorskip("datasets")


def assert_decoded_is_load_zoo(decoded: dict, zoo, i: int) -> None:
    """decode's (U, V) are load_zoo's tensors cut to the row's ranks; load_zoo pads with zeros."""
    assert list(decoded) == [spec.name for spec in zoo.modules]
    for k, spec in enumerate(zoo.modules):
        r = int(zoo.ranks[i, k])
        U, V = decoded[spec.name][:2]
        assert U.dtype == V.dtype == torch.float32 and U.shape == (spec.n, r) and V.shape == (spec.m, r)
        assert torch.equal(U, zoo.U[k][i][:, :r]), (zoo.lora_ids[i], spec.name)
        assert torch.equal(V, zoo.V[k][i][:, :r]), (zoo.lora_ids[i], spec.name)
        assert not zoo.U[k][i][:, r:].any() and not zoo.V[k][i][:, r:].any()
        if zoo.magnitudes is not None:
            assert torch.equal(decoded[spec.name][2], zoo.magnitudes[k][i])


@pytest.mark.parametrize("kind", ["plain", "mixed", "dora"])
def test_datasets_and_the_cards_decoder_give_load_zoo_tensors(tmp_path, kind):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", kind)
    export_zoo(zoo_path, tmp_path / "export")
    decode = card_decoder(tmp_path / "export")
    zoo = load_zoo(zoo_path)
    loaded = load_hf(str(tmp_path / "export"), cache=tmp_path / "cache")
    assert set(loaded) == {"train", "validation", "test"}
    row_of = {lora_id: i for i, lora_id in enumerate(zoo.lora_ids)}
    seen = set()
    for part in loaded.values():
        assert part.features["weights"] == datasets.Value("large_binary")
        for lora in part:
            assert isinstance(lora["weights"], bytes)
            i = row_of[lora["lora_id"]]
            assert lora["zoo_row"] == i
            assert_decoded_is_load_zoo(decode(lora), zoo, i)
            seen.add(lora["lora_id"])
    assert seen == set(zoo.lora_ids)


@pytest.mark.parametrize("kind", ["mixed", "dora"])
def test_pandas_and_the_cards_decoder_give_load_zoo_tensors(tmp_path, kind):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", kind)
    exported = export_zoo(zoo_path, tmp_path / "export")
    decode = card_decoder(tmp_path / "export")
    zoo = load_zoo(zoo_path)
    frame = pd.concat([pd.read_parquet(tmp_path / "export" / shard.path) for shard in exported.shards])
    assert len(frame) == len(zoo)
    for _, row in frame.iterrows():
        assert_decoded_is_load_zoo(decode(row), zoo, int(row["zoo_row"]))


def test_parquet_builder_and_splits(tmp_path):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", "mixed")
    exported = export_zoo(zoo_path, tmp_path / "export", fractions=(0.6, 0.2, 0.2))
    files = {split: str(tmp_path / "export" / "data" / f"{split}-*.parquet")
             for split in dict.fromkeys(s.split for s in exported.shards)}
    loaded = load_hf("parquet", data_files=files, cache=tmp_path / "cache")
    zoo = load_zoo(zoo_path)
    expected = dict(zip(zoo.lora_ids, (HUB_SPLITS[s] for s in assign_splits(zoo.lora_ids, (0.6, 0.2, 0.2)))))
    for split, part in loaded.items():
        assert all(expected[lora_id] == split for lora_id in part["lora_id"])
        assert part["zoo_row"] == sorted(part["zoo_row"])  # zoo order within a split
    assert sum(len(part) for part in loaded.values()) == len(zoo)
    first = loaded["train"][0]
    U, V = card_decoder(tmp_path / "export")(first)[zoo.modules[1].name]
    torch.testing.assert_close(U @ V.T, zoo.delta(zoo.lora_ids.index(first["lora_id"]), 1))


def test_shard_cap_splits_a_split_into_several_shards(tmp_path):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", "mixed")
    exported = export_zoo(zoo_path, tmp_path / "export", shard_bytes=3000)
    train = [shard for shard in exported.shards if shard.split == "train"]
    assert len(train) > 2
    assert [s.path for s in train] == [f"data/train-{i:05d}-of-{len(train):05d}.parquet" for i in range(len(train))]
    assert sum(s.rows for s in exported.shards) == 40
    loaded = load_hf(str(tmp_path / "export"), cache=tmp_path / "cache")
    assert len(loaded["train"]) == sum(s.rows for s in train)


def test_streaming_row_groups_give_the_same_shards(tmp_path, monkeypatch):
    """A zoo of many small row groups, exported with small shard row groups, gives the rows of a one-row-group
    zoo's export: streaming changes how the rows travel, not where they land."""
    whole = export_zoo(write_zoo(tmp_path / "whole.parquet", "mixed"), tmp_path / "whole", shard_bytes=6000)
    small = write_zoo(tmp_path / "small.parquet", "mixed", row_group_bytes=1000)
    assert pq.ParquetFile(small).num_row_groups > 10
    monkeypatch.setattr(zoo_export, "DEFAULT_ROW_GROUP_BYTES", 2000)  # buffers flush mid-shard
    streamed = export_zoo(small, tmp_path / "streamed", shard_bytes=6000)
    assert [(s.path, s.rows) for s in streamed.shards] == [(s.path, s.rows) for s in whole.shards]
    groups = 0
    for shard in whole.shards:
        a, b = (pq.read_table(tmp_path / folder / shard.path) for folder in ("whole", "streamed"))
        assert a.equals(b) and a.schema.equals(b.schema, check_metadata=True)
        groups = max(groups, pq.ParquetFile(tmp_path / "streamed" / shard.path).num_row_groups)
    assert groups > 1


def test_a_tiny_zoo_leaves_empty_splits_out(tmp_path):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", count=2)
    exported = export_zoo(zoo_path, tmp_path / "export")
    assert sum(s.rows for s in exported.shards) == 2
    loaded = load_hf(str(tmp_path / "export"), cache=tmp_path / "cache")
    assert sum(len(part) for part in loaded.values()) == 2
