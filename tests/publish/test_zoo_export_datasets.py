"""An export loads with `datasets` alone, into exactly the tensors lolzoo.zoo.load_zoo gives."""

from __future__ import annotations

import pytest
import torch

from lolzoo.lol.split import assign_splits
from lolzoo.publish.hf_layout import HUB_SPLITS
from lolzoo.publish.zoo_export import export_zoo
from lolzoo.zoo.load import load_zoo
from tests.publish.export_helpers import load_hf, write_zoo

datasets = pytest.importorskip("datasets")


@pytest.mark.parametrize("kind", ["plain", "mixed", "dora"])
def test_datasets_alone_gives_load_zoo_tensors(tmp_path, kind):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", kind)
    export_zoo(zoo_path, tmp_path / "export")
    zoo = load_zoo(zoo_path)
    loaded = load_hf(str(tmp_path / "export"), cache=tmp_path / "cache")
    assert set(loaded) == {"train", "validation", "test"}
    row_of = {lora_id: i for i, lora_id in enumerate(zoo.lora_ids)}
    seen = set()
    for split, part in loaded.items():
        assert isinstance(part.features[f"{zoo.modules[0].name}.U"], datasets.Array2D)
        rows = part.with_format("torch")
        for j in range(len(rows)):
            lora = rows[j]
            i = row_of[lora["lora_id"]]
            seen.add(lora["lora_id"])
            for k, spec in enumerate(zoo.modules):
                assert lora[f"{spec.name}.U"].dtype == torch.float32
                assert torch.equal(lora[f"{spec.name}.U"], zoo.U[k][i]), (lora["lora_id"], spec.name)
                assert torch.equal(lora[f"{spec.name}.V"], zoo.V[k][i]), (lora["lora_id"], spec.name)
                if kind == "dora":
                    assert torch.equal(lora[f"{spec.name}.magnitude"], zoo.magnitudes[k][i])
            assert lora["zoo_row"] == i
    assert seen == set(zoo.lora_ids)


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
    first = loaded["train"].with_format("torch")[0]
    i = zoo.lora_ids.index(first["lora_id"])
    delta = first[f"{zoo.modules[1].name}.U"] @ first[f"{zoo.modules[1].name}.V"].T
    torch.testing.assert_close(delta, zoo.delta(i, 1))


def test_shard_cap_splits_a_split_into_several_shards(tmp_path):
    zoo_path = write_zoo(tmp_path / "zoo.parquet")
    exported = export_zoo(zoo_path, tmp_path / "export", shard_bytes=3000)
    train = [shard for shard in exported.shards if shard.split == "train"]
    assert len(train) > 2
    assert [s.path for s in train] == [f"data/train-{i:05d}-of-{len(train):05d}.parquet" for i in range(len(train))]
    assert sum(s.rows for s in exported.shards) == 40
    loaded = load_hf(str(tmp_path / "export"), cache=tmp_path / "cache")
    assert len(loaded["train"]) == sum(s.rows for s in train)


def test_a_tiny_zoo_leaves_empty_splits_out(tmp_path):
    zoo_path = write_zoo(tmp_path / "zoo.parquet", count=2)
    exported = export_zoo(zoo_path, tmp_path / "export")
    assert sum(s.rows for s in exported.shards) == 2
    loaded = load_hf(str(tmp_path / "export"), cache=tmp_path / "cache")
    assert sum(len(part) for part in loaded.values()) == 2
