"""pack_zoo then load_zoo gives back exactly the weights, ranks, alphas and labels."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import torch

from zoo_helpers import labels_for, make_lora
from lolzoo.zoo import load_zoo, pack_zoo, read_zoo_info
from lolzoo.zoo.schema import PLAIN_SCHEMA_VERSION


@pytest.fixture(params=[1 << 30, 300], ids=["one_row_group", "many_row_groups"])
def packed(request, tmp_path, mixed_entries):
    path = tmp_path / "zoo.parquet"
    ids = [i for i, _ in mixed_entries]
    pack_zoo(mixed_entries, labels_for(ids), path, "tiny", "tiny-base", row_group_bytes=request.param)
    return path, mixed_entries


def test_unscaled_weights_come_back_exactly_with_zero_padding(packed):
    path, entries = packed
    zoo = load_zoo(path, fold_scaling=False)
    assert zoo.lora_ids == [i for i, _ in entries]
    assert zoo.r_max == 4 and not zoo.scaling_folded
    for row, (_, lora) in enumerate(entries):
        for k, module in enumerate(lora.modules):
            r = module.rank
            assert zoo.ranks[row, k] == r
            assert torch.equal(zoo.U[k][row, :, :r], module.U)
            assert torch.equal(zoo.V[k][row, :, :r], module.V)
            assert not zoo.U[k][row, :, r:].any() and not zoo.V[k][row, :, r:].any()
            assert zoo.scales[row, k].item() == pytest.approx(module.scale)


def test_folded_scaling_preserves_every_delta(packed):
    path, entries = packed
    zoo = load_zoo(path)  # fold_scaling=True: ΔW = U Vᵀ
    assert zoo.scaling_folded and torch.all(zoo.scales == 1)
    for row, (_, lora) in enumerate(entries):
        for k, module in enumerate(lora.modules):
            got = zoo.U[k][row] @ zoo.V[k][row].T
            torch.testing.assert_close(got, module.delta(), rtol=1e-6, atol=1e-6)


def test_float64_load_is_exact_on_the_stored_float32(packed):
    path, entries = packed
    zoo = load_zoo(path, dtype=torch.float64)
    _, lora = entries[3]  # per-module ranks [1, 4, 2], alpha 16
    for k, module in enumerate(lora.modules):
        assert zoo.U[k].dtype == torch.float64
        expected = module.U.double() * (16.0 / module.rank)
        assert torch.equal(zoo.U[k][3, :, :module.rank], expected)


def test_bfloat16_is_cast_at_the_end(packed):
    path, entries = packed
    zoo = load_zoo(path, dtype=torch.bfloat16, fold_scaling=False)
    module = entries[0][1].modules[0]
    assert zoo.U[0].dtype == torch.bfloat16
    assert torch.equal(zoo.U[0][0, :, :module.rank], module.U.to(torch.bfloat16))


def test_table_holds_ids_labels_and_per_module_metadata(packed):
    path, entries = packed
    zoo = load_zoo(path)
    table = zoo.table
    assert "weights" not in table.columns
    assert list(table["score"]) == [i / 2 for i in range(len(entries))]
    assert list(table["kind"]) == [f"k{i % 3}" for i in range(len(entries))]
    assert list(table["rank"]) == [2, 4, 2, 4, 3, 4]
    assert list(table.loc[3, "module_ranks"]) == [m.rank for m in entries[3][1].modules]
    assert set(table["zoo"]) == {"tiny"} and set(table["base_model"]) == {"tiny-base"}


def test_columns_selects_table_columns_and_keeps_lora_id(packed):
    path, _ = packed
    zoo = load_zoo(path, columns=["score"])
    assert list(zoo.table.columns) == ["lora_id", "score"]


def test_schema_metadata_round_trip(packed):
    path, entries = packed
    info = read_zoo_info(path)
    assert info.schema_version == PLAIN_SCHEMA_VERSION and not info.dora  # plain zoos stay readable by older lolzoo
    assert (info.zoo, info.base_model) == ("tiny", "tiny-base")
    assert info.label_columns == ("score", "is_big", "kind") and info.recipe_columns == ()
    lora = entries[0][1]
    assert [m.name for m in info.modules] == [m.name for m in lora.modules]
    assert [m.key for m in info.modules] == [m.key for m in lora.modules]
    assert [(m.n, m.m) for m in info.modules] == [(m.out_features, m.in_features) for m in lora.modules]


def test_weights_are_uncompressed_and_other_columns_zstd(packed):
    path, _ = packed
    metadata = pq.ParquetFile(path).metadata
    schema = metadata.schema.to_arrow_schema()
    for column in range(metadata.num_columns):
        chunk = metadata.row_group(0).column(column)
        expected = "UNCOMPRESSED" if chunk.path_in_schema == "weights" else "ZSTD"
        assert chunk.compression == expected, chunk.path_in_schema
    assert schema.field("weights").type == "large_binary"


def test_recipes_join_and_a_matching_rank_column_is_checked_not_duplicated(tmp_path):
    entries = [(f"r{i}", make_lora(i, rank=2)) for i in range(3)]
    recipes = labels_for(["r0", "r1", "r2", "other-zoo-0"]).rename(columns={"score": "lr", "is_big": "flag", "kind": "prompt"})
    recipes["rank"] = 2
    path = tmp_path / "zoo.parquet"
    pack_zoo(entries, None, path, "tiny", "tiny-base", recipes=recipes)
    zoo = load_zoo(path)
    assert list(zoo.table["lr"]) == [0.0, 0.5, 1.0]
    assert list(zoo.table.columns).count("rank") == 1
    assert read_zoo_info(path).recipe_columns == ("lr", "flag", "prompt")


def test_lora_without_recipe_gets_null_recipe_columns(tmp_path):
    entries = [(f"r{i}", make_lora(i)) for i in range(2)]
    recipes = labels_for(["r0"]).rename(columns={"score": "lr"})[["lora_id", "lr"]]
    path = tmp_path / "zoo.parquet"
    pack_zoo(entries, None, path, "tiny", "tiny-base", recipes=recipes)
    assert load_zoo(path).table["lr"].isna().tolist() == [False, True]


def test_base_model_none_is_taken_from_the_loras(tmp_path):
    path = tmp_path / "zoo.parquet"
    pack_zoo([("a", make_lora(0))], None, path, "tiny", None)
    assert read_zoo_info(path).base_model == "tiny-base"


def test_many_loras_keep_order_across_row_groups(tmp_path):
    entries = [(f"id{i:03d}", make_lora(i, rank=1 + i % 4)) for i in range(40)]
    path = tmp_path / "zoo.parquet"
    pack_zoo(iter(entries), labels_for([i for i, _ in entries]), path, "tiny", "b", row_group_bytes=1000)
    assert pq.ParquetFile(path).num_row_groups > 5
    zoo = load_zoo(path, fold_scaling=False)
    assert zoo.lora_ids == [i for i, _ in entries]
    for row, (_, lora) in enumerate(entries):
        for k, module in enumerate(lora.modules):
            assert torch.equal(zoo.U[k][row, :, :module.rank], module.U)
            assert torch.equal(zoo.V[k][row, :, :module.rank], module.V)
