"""Recipes: every LoRA a config asks for, as a pure seeded function of the config."""

from lolzoo.recipes.zoos import all_recipes, lora_id, recipes_table, shard_name, zoo_recipes, zoo_shards

__all__ = ["all_recipes", "lora_id", "recipes_table", "shard_name", "zoo_recipes", "zoo_shards"]
