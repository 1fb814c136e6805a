"""How a Hugging Face dataset repository lays out an exported zoo, and how it declares its columns.

`datasets` reads the column types of a Parquet file from the JSON under the schema metadata key
b"huggingface" ({"info": {"features": ...}}), so an export written with pyarrow alone loads with
the same features as one `datasets` wrote itself. lolzoo never imports `datasets`: the feature
JSON below is the documented serialisation (Value, Sequence), checked against `datasets` by
tests/publish. The weights stay the zoo's one large_binary column, declared as
Value("large_binary"), so `datasets` hands out each row's bytes for the card's decoder.
"""

from __future__ import annotations

import json

import pyarrow as pa

from lolzoo.errors import LolzooError

CARD = "README.md"
DATA_DIR = "data"
# lolzoo's split names (lolzoo.lol.split.SPLITS) -> the hub's, in the order the card lists them
HUB_SPLITS = {"train": "train", "val": "validation", "test": "test"}
HF_METADATA_KEY = b"huggingface"
EXPORT_METADATA_KEY = b"lolzoo_export"  # what the shard holds beyond the zoo's own schema JSON
# 2: the zoo's own columns and bytes (1 was per-module Array2D columns, α/r folded, ranks padded)
EXPORT_FORMAT_VERSION = 2
ROW_COLUMN = "zoo_row"  # the row's position in the zoo file: import restores the order from it


class ExportFormatError(LolzooError):
    """A column, name or folder that cannot be written as (or read back from) an exported zoo."""


def shard_path(split: str, index: int, count: int) -> str:
    """`data/train-00000-of-00003.parquet`: the hub's own naming, so its split globbing finds them."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def feature_of(arrow_type: pa.DataType, column: str) -> dict:
    """The `datasets` feature JSON of a column of the zoo (the weights are a binary Value)."""
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return {"feature": feature_of(arrow_type.value_type, column), "length": -1, "_type": "Sequence"}
    return {"dtype": _value_dtype(arrow_type, column), "_type": "Value"}


def hf_metadata(features: dict) -> bytes:
    return json.dumps({"info": {"features": features}}).encode()


_VALUE_DTYPES = {
    pa.bool_(): "bool", pa.int8(): "int8", pa.int16(): "int16", pa.int32(): "int32", pa.int64(): "int64",
    pa.uint8(): "uint8", pa.uint16(): "uint16", pa.uint32(): "uint32", pa.uint64(): "uint64",
    pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64",
    pa.string(): "string", pa.large_string(): "large_string", pa.null(): "null",
    pa.binary(): "binary", pa.large_binary(): "large_binary",
}


def _value_dtype(arrow_type: pa.DataType, column: str) -> str:
    if pa.types.is_dictionary(arrow_type):  # pandas categoricals: the hub sees their values
        return _value_dtype(arrow_type.value_type, column)
    try:
        return _VALUE_DTYPES[arrow_type]
    except KeyError:
        raise ExportFormatError(f"column {column!r} has Arrow type {arrow_type}, which the export does not "
                                f"declare to `datasets` (numbers, booleans, strings, bytes and lists of them)") from None
