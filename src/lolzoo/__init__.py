"""lolzoo: zoos of LoRAs and the LoL models that learn on them."""

__version__ = "0.1.0"
