"""How a Hugging Face dataset repository lays out an exported zoo, and how it declares its columns.

`datasets` reads the column types of a Parquet file from the JSON under the schema metadata key
b"huggingface" ({"info": {"features": ...}}), so an export written with pyarrow alone loads with
the same features as one `datasets` wrote itself. lolzoo never imports `datasets`: the feature
JSON below is the documented serialisation (Value, Sequence, Array2D), checked against `datasets`
by tests/publish.
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
EXPORT_FORMAT_VERSION = 1
ROW_COLUMN = "zoo_row"  # the row's position in the zoo file: import restores the order from it

# Array2D's Arrow storage as `datasets` writes it: plain (not fixed-size) nested lists, marked as its
# Arrow extension type, which `datasets` registers; other readers see the nested lists
ARRAY2D_STORAGE = pa.list_(pa.list_(pa.float32()))
ARRAY2D_EXTENSION = b"datasets.features.features.Array2DExtensionType"


class ExportFormatError(LolzooError):
    """A column, name or folder that cannot be written as (or read back from) an exported zoo."""


def shard_path(split: str, index: int, count: int) -> str:
    """`data/train-00000-of-00003.parquet`: the hub's own naming, so its split globbing finds them."""
    return f"{DATA_DIR}/{split}-{index:05d}-of-{count:05d}.parquet"


def weight_column(module: str, part: str) -> str:
    """`<module name>.U`, `.V` or `.magnitude`."""
    return f"{module}.{part}"


def array2d_feature(rows: int, columns: int) -> dict:
    return {"shape": [int(rows), int(columns)], "dtype": "float32", "_type": "Array2D"}


def array2d_field(name: str, rows: int, columns: int) -> pa.Field:
    """A float32 matrix column: `datasets` matches its feature to this field (type and extension
    metadata both) before it yields an Array2D rather than nested lists."""
    extension = json.dumps([[int(rows), int(columns)], "float32"]).encode()
    return pa.field(name, ARRAY2D_STORAGE, metadata={b"ARROW:extension:name": ARRAY2D_EXTENSION,
                                                     b"ARROW:extension:metadata": extension})


def vector_feature(length: int) -> dict:
    """A fixed-length float32 vector (stored as Arrow fixed_size_list)."""
    return {"feature": {"dtype": "float32", "_type": "Value"}, "length": int(length), "_type": "Sequence"}


def feature_of(arrow_type: pa.DataType, column: str) -> dict:
    """The `datasets` feature JSON of a plain (non-weight) column of the zoo."""
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
}


def _value_dtype(arrow_type: pa.DataType, column: str) -> str:
    if pa.types.is_dictionary(arrow_type):  # pandas categoricals: the hub sees their values
        return _value_dtype(arrow_type.value_type, column)
    try:
        return _VALUE_DTYPES[arrow_type]
    except KeyError:
        raise ExportFormatError(f"column {column!r} has Arrow type {arrow_type}, which the export does not "
                                f"declare to `datasets` (numbers, booleans, strings and lists of them)") from None
