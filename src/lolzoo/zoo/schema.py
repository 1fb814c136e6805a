"""The Parquet zoo format: column names, the Arrow schema and the JSON metadata it carries.

One row per LoRA.  Columns, in order:

    lora_id        string            stable id of the LoRA
    zoo            string            zoo name (Parquet dictionary encoding: nearly free)
    base_model     string            base model the LoRA adapts
    rank           int32             largest module rank of the LoRA
    module_ranks   list<int32>       rank of every module, in module order
    module_alphas  list<float64>     lora_alpha of every module, in module order (null: no alpha, scale 1)
    <recipe columns>                 hyperparameters, joined on lora_id (when known)
    <label columns>                  labels, joined on lora_id
    magnitudes     large_binary      DoRA zoos only (schema version 2): every module's magnitude
                                     vector (n_k float32) in module order
    weights        large_binary      every module's U then V, see below

The weights of one row are raw little-endian float32: for each module k in module order,
Uᵀ_k (r_k x n_k, row-major) then Vᵀ_k (r_k x m_k, row-major): lora_B transposed and lora_A
exactly as the adapter stores it (alpha/r NOT folded in; the alphas column keeps it).
Rank-major because it is the layout the LoL models read fastest: GL-net's first layer is
one (B·r x n) @ (n x h) product per module when each rank row of U is contiguous.  Raw bytes rather than
list<float32>: Parquet stores lists with a repetition and a definition level per float,
and decoding those levels made loading ~3x slower than one binary value per row
(benchmarks/zoo_io.py).  Any Parquet reader still sees every other column as usual;
`numpy.frombuffer(row.weights, "<f4")` recovers a row's floats.

The schema metadata key b"lolzoo" holds JSON: schema_version, zoo, base_model, the ordered
modules with their key and (n, m) shape, the weight layout, the recipe and label column
names, `dora`, and `provenance` (the base's identity and hash, the config and lolzoo version
that made the zoo; older lolzoo versions ignore it). A plain zoo is written as version 1 and a DoRA zoo as version 2, so an older
lolzoo refuses a DoRA zoo instead of silently dropping its magnitudes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from lolzoo.errors import LolzooError

SCHEMA_VERSION = 2  # 2: DoRA zoos, with the magnitudes column
PLAIN_SCHEMA_VERSION = 1  # what plain zoos are still written as
METADATA_KEY = b"lolzoo"

ID_COLUMN = "lora_id"
WEIGHTS_COLUMN = "weights"
MAGNITUDES_COLUMN = "magnitudes"
FIXED_COLUMNS = {
    "lora_id": pa.string(),
    "zoo": pa.string(),
    "base_model": pa.string(),
    "rank": pa.int32(),
    "module_ranks": pa.list_(pa.int32()),
    "module_alphas": pa.list_(pa.float64()),
}
WEIGHTS_TYPE = pa.large_binary()  # 64-bit offsets: a row group of big LoRAs may pass 2 GiB
WEIGHTS_DTYPE = "<f4"
RESERVED_COLUMNS = frozenset(FIXED_COLUMNS) | {WEIGHTS_COLUMN, MAGNITUDES_COLUMN}


class ZooFormatError(LolzooError):
    """A zoo that cannot be written or read; the message names the file, column or lora_id."""


@dataclass(frozen=True)
class ModuleSpec:
    """One adapted matrix of every LoRA in a zoo: ΔW is n x m."""

    name: str  # "unet.down_blocks.0...to_q" (component.path)
    key: str  # format-independent key, see lolzoo.lora.types.module_key
    n: int  # out features (rows of U)
    m: int  # in features (rows of V)
    conv_kernel: tuple[int, ...] | None = None  # a conv LoRA: V's rows are (c_in, k1, k2) flattened

    def __post_init__(self):
        if self.conv_kernel is not None:  # JSON gives a list back
            object.__setattr__(self, "conv_kernel", tuple(int(k) for k in self.conv_kernel))


@dataclass(frozen=True)
class ZooInfo:
    """What the schema metadata of a zoo file says."""

    schema_version: int
    zoo: str
    base_model: str
    modules: tuple[ModuleSpec, ...]
    recipe_columns: tuple[str, ...]
    label_columns: tuple[str, ...]
    extra: dict  # free-form metadata a writer added (e.g. the synthetic zoo's task list)
    dora: bool = False  # DoRA adapters: the magnitudes column holds each module's magnitude vector
    # where the zoo came from, so that it survives copying: lolzoo_version, world, config_sha256,
    # zoo_config (the config part it was made from: lolzoo.recipes.plan.zoo_spec) and base (name,
    # kind, sha256 of its weights: lolzoo.bases.identity); empty for a zoo packed by hand
    provenance: dict = field(default_factory=dict)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["modules"] = [asdict(m) for m in self.modules]
        data["weights"] = {
            "column": WEIGHTS_COLUMN,
            "dtype": "float32",
            "byteorder": "little",
            "layout": "per module in order: U^T (r x n, row-major) then V^T (r x m, row-major); "
                      "r from module_ranks; alpha/r not folded in",
        }
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_schema(cls, schema: pa.Schema, source: str) -> "ZooInfo":
        metadata = schema.metadata or {}
        if METADATA_KEY not in metadata:
            raise ZooFormatError(f"{source}: not a lolzoo zoo (no {METADATA_KEY.decode()!r} "
                                 f"entry in the Parquet schema metadata)")
        try:
            data = json.loads(metadata[METADATA_KEY])
            version = int(data["schema_version"])
        except (ValueError, KeyError, TypeError) as err:
            raise ZooFormatError(f"{source}: unreadable lolzoo schema metadata ({err})") from err
        if version > SCHEMA_VERSION:
            raise ZooFormatError(f"{source}: zoo schema version {version} is newer than this "
                                 f"lolzoo reads (up to {SCHEMA_VERSION}); upgrade lolzoo")
        try:
            return cls(
                schema_version=version,
                zoo=data["zoo"],
                base_model=data["base_model"],
                modules=tuple(ModuleSpec(**m) for m in data["modules"]),
                recipe_columns=tuple(data["recipe_columns"]),
                label_columns=tuple(data["label_columns"]),
                extra=dict(data.get("extra", {})),
                dora=bool(data.get("dora", False)),
                provenance=dict(data.get("provenance") or {}),
            )
        except (KeyError, TypeError) as err:
            raise ZooFormatError(f"{source}: incomplete lolzoo schema metadata ({err})") from err

    def row_floats(self, module_ranks) -> int:
        """Number of float32 values in the weights of a row with these module ranks."""
        return sum((spec.n + spec.m) * int(r) for spec, r in zip(self.modules, module_ranks))


def zoo_schema(info: ZooInfo, extra_fields: list[pa.Field]) -> pa.Schema:
    """Fixed columns, then recipe and label columns (types taken from the given frames), then weights."""
    fields = [pa.field(name, typ, nullable=False) for name, typ in FIXED_COLUMNS.items()]
    fields += extra_fields
    if info.dora:
        fields.append(pa.field(MAGNITUDES_COLUMN, WEIGHTS_TYPE, nullable=False))
    fields.append(pa.field(WEIGHTS_COLUMN, WEIGHTS_TYPE, nullable=False))
    return pa.schema(fields, metadata={METADATA_KEY: info.to_json()})
