"""Bad input to pack_zoo / load_zoo fails with a message naming the offending ids or file."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from zoo_helpers import LAYOUT, labels_for, make_lora
from lolzoo.errors import LolzooError
from lolzoo.zoo import ZooFormatError, load_zoo, pack_zoo, read_zoo_info
from lolzoo.zoo.schema import METADATA_KEY


def pack(tmp_path, entries, labels=None, **kwargs):
    return pack_zoo(entries, labels, tmp_path / "zoo.parquet", "tiny", "base", **kwargs)


def test_zoo_errors_are_lolzoo_errors_so_the_cli_prints_one_line():
    assert issubclass(ZooFormatError, LolzooError)


def test_a_different_module_layout_names_the_lora(tmp_path):
    other = [("unet", "down.0.attn.to_q", 6, 5), ("unet", "down.0.attn.to_v", 6, 8), ("text_encoder", "layers.1.q", 4, 4)]
    entries = [("good", make_lora(0)), ("bad", make_lora(1, layout=other))]
    with pytest.raises(ZooFormatError, match=r"'bad'.*'good'.*to_v is \(6, 8\) not \(6, 9\)"):
        pack(tmp_path, entries)
    assert not list(tmp_path.iterdir()), "a failed pack leaves no file, not even the .tmp"


def test_a_missing_module_names_it(tmp_path):
    entries = [("good", make_lora(0)), ("short", make_lora(1, layout=LAYOUT[:2]))]
    with pytest.raises(ZooFormatError, match=r"'short'.*lacks 'text_encoder.layers.1.q'"):
        pack(tmp_path, entries)


def test_loras_without_labels_are_listed(tmp_path):
    entries = [(f"l{i}", make_lora(i)) for i in range(4)]
    with pytest.raises(ZooFormatError, match=r"2 LoRAs have no label row: 'l2', 'l3'"):
        pack(tmp_path, entries, labels_for(["l0", "l1"]))


def test_allow_missing_labels_stores_nulls(tmp_path):
    entries = [(f"l{i}", make_lora(i)) for i in range(3)]
    summary = pack(tmp_path, entries, labels_for(["l0", "l2"]), allow_missing_labels=True)
    table = load_zoo(summary.path).table
    assert table["score"].isna().tolist() == [False, True, False]


def test_labels_without_a_lora_are_listed_even_when_missing_labels_are_allowed(tmp_path):
    entries = [("l0", make_lora(0))]
    with pytest.raises(ZooFormatError, match=r"1 label rows have no LoRA: 'ghost'"):
        pack(tmp_path, entries, labels_for(["l0", "ghost"]), allow_missing_labels=True)


def test_labels_need_a_lora_id_column_and_unique_ids(tmp_path):
    entries = [("l0", make_lora(0))]
    with pytest.raises(ZooFormatError, match="no 'lora_id' column"):
        pack(tmp_path, entries, pd.DataFrame({"id": ["l0"], "y": [1]}))
    with pytest.raises(ZooFormatError, match="more than once: 'l0'"):
        pack(tmp_path, entries, pd.DataFrame({"lora_id": ["l0", "l0"], "y": [1, 2]}))


def test_a_label_named_like_a_reserved_column_is_refused(tmp_path):
    with pytest.raises(ZooFormatError, match="reserved column names \\['weights'\\]"):
        pack(tmp_path, [("l0", make_lora(0))], pd.DataFrame({"lora_id": ["l0"], "weights": [1]}))


def test_a_recipe_rank_that_disagrees_with_the_lora_is_refused(tmp_path):
    recipes = pd.DataFrame({"lora_id": ["l0", "l1"], "rank": [3, 8]})
    with pytest.raises(ZooFormatError, match=r"'rank' disagrees .* 'l1'.*8 vs 3"):
        pack(tmp_path, [("l0", make_lora(0, rank=3)), ("l1", make_lora(1, rank=3))], recipes=recipes)


def test_non_finite_weights_are_refused_with_the_lora_id(tmp_path):
    lora = make_lora(0)
    lora.modules[1].V[2, 0] = float("nan")
    with pytest.raises(ZooFormatError, match=r"'sick'.*non-finite"):
        pack(tmp_path, [("ok", make_lora(1)), ("sick", lora)])


def test_duplicate_ids_and_empty_input_are_refused(tmp_path):
    with pytest.raises(ZooFormatError, match="'twice' is given twice"):
        pack(tmp_path, [("twice", make_lora(0)), ("twice", make_lora(1))])
    with pytest.raises(ZooFormatError, match="no LoRAs"):
        pack(tmp_path, [])


def test_a_plain_parquet_file_is_not_a_zoo(tmp_path):
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"lora_id": ["a"], "x": [1.0]}), path)
    with pytest.raises(ZooFormatError, match="not a lolzoo zoo"):
        load_zoo(path)


def test_a_text_file_is_not_a_zoo(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("lora_id,y\na,1\n")
    with pytest.raises(ZooFormatError, match="not a Parquet file"):
        load_zoo(path)


def test_a_newer_schema_version_asks_for_an_upgrade(tmp_path):
    path = pack(tmp_path, [("l0", make_lora(0))]).path
    table = pq.read_table(path)
    metadata = json.loads(table.schema.metadata[METADATA_KEY])
    metadata["schema_version"] = 99
    future = tmp_path / "future.parquet"
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata)}), future)
    with pytest.raises(ZooFormatError, match="schema version 99 is newer.*upgrade lolzoo"):
        read_zoo_info(future)
    with pytest.raises(ZooFormatError, match="schema version 99"):
        load_zoo(future)


def test_truncated_weights_name_the_lora(tmp_path):
    path = pack(tmp_path, [("l0", make_lora(0)), ("l1", make_lora(1))]).path
    table = pq.read_table(path)
    weights = table.column("weights").to_pylist()
    weights[1] = weights[1][:-8]
    broken = table.set_column(table.schema.get_field_index("weights"), table.schema.field("weights"),
                              pa.array(weights, pa.large_binary()))
    pq.write_table(broken, tmp_path / "broken.parquet")
    with pytest.raises(ZooFormatError, match=r"'l1' has \d+ weight floats"):
        load_zoo(tmp_path / "broken.parquet")


def test_unknown_columns_are_listed(tmp_path):
    path = pack(tmp_path, [("l0", make_lora(0))], labels_for(["l0"])).path
    with pytest.raises(ZooFormatError, match=r"no columns \['nope'\]"):
        load_zoo(path, columns=["nope"])


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^no zoo file .*absent\.parquet$"):
        load_zoo(tmp_path / "absent.parquet")
