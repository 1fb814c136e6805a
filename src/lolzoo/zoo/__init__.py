"""The Parquet zoo: many LoRAs, their recipes and labels in one file, one row per LoRA."""

from lolzoo.zoo.load import Zoo, load_zoo, read_zoo_info
from lolzoo.zoo.pack import PackSummary, pack_zoo
from lolzoo.zoo.schema import SCHEMA_VERSION, ModuleSpec, ZooFormatError, ZooInfo

__all__ = ["SCHEMA_VERSION", "ModuleSpec", "PackSummary", "Zoo", "ZooFormatError", "ZooInfo",
           "load_zoo", "pack_zoo", "read_zoo_info"]
