"""Every base test runs offline: a hub lookup would be a bug, not a slow test."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["DIFFUSERS_VERBOSITY"] = "error"
