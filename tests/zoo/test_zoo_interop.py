"""The zoo is plain Parquet: pandas, pyarrow and DuckDB read ids, labels and raw weights."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from zoo_helpers import labels_for
from lolzoo.zoo import pack_zoo


@pytest.fixture
def zoo_path(tmp_path, mixed_entries):
    path = tmp_path / "zoo.parquet"
    pack_zoo(mixed_entries, labels_for([i for i, _ in mixed_entries]), path, "tiny", "tiny-base", row_group_bytes=300)
    return path


def test_pandas_reads_ids_labels_and_weights(zoo_path, mixed_entries):
    frame = pd.read_parquet(zoo_path)
    assert len(frame) == len(mixed_entries)
    assert frame["lora_id"].tolist() == [i for i, _ in mixed_entries]
    assert frame["is_big"].tolist() == [i % 2 == 0 for i in range(len(mixed_entries))]
    lora = mixed_entries[1][1]
    first = lora.modules[0]
    floats = np.frombuffer(frame.loc[1, "weights"], dtype="<f4")
    assert floats.size == sum(m.U.numel() + m.V.numel() for m in lora.modules)
    # rank-major: Uᵀ (lora_B transposed), then Vᵀ (lora_A as adapters store it)
    np.testing.assert_array_equal(floats[:first.U.numel()], first.U.numpy().T.ravel())
    v_start = first.U.numel()
    np.testing.assert_array_equal(floats[v_start:v_start + first.V.numel()], first.V.numpy().T.ravel())


def test_pyarrow_reads_label_columns_without_touching_weights(zoo_path, mixed_entries):
    table = pq.read_table(zoo_path, columns=["lora_id", "score", "kind"])
    assert table.num_rows == len(mixed_entries)
    assert table.column("score").to_pylist() == [i / 2 for i in range(len(mixed_entries))]
    assert table.column("kind").to_pylist()[:3] == ["k0", "k1", "k2"]


def test_duckdb_queries_the_file(zoo_path, mixed_entries):
    [(count,)] = duckdb.sql(f"select count(*) from '{zoo_path}'").fetchall()
    assert count == len(mixed_entries)
    rows = duckdb.sql(f"select lora_id, score, rank, octet_length(weights) as nbytes from '{zoo_path}' "
                      f"where is_big order by lora_id").fetchall()
    assert [r[0] for r in rows] == ["lora-00", "lora-02", "lora-04"]
    assert [r[1] for r in rows] == [0.0, 1.0, 2.0]
    assert rows[0][3] == 4 * mixed_entries[0][1].num_parameters
