"""Synthetic zoos: random LoRAs whose labels are known GL(r)-invariant functions of ΔW.

A stage beside diffusion and language: a shard job writes PEFT folders and label files as
theirs do (`lolzoo synthesize-shard`). Packing a whole synthetic zoo into one Parquet file
in one call (`lolzoo synthetic-zoo`) is the zoo stage's (lolzoo.zoo.synthetic_zoo).
"""
