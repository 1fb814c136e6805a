"""The reliability sample (lolzoo.recipes.plan, issue 18): its size rule, its stability when a zoo
grows, the shards it falls in, the re-measurement's jobs and the `lolzoo reliability` flags."""

import json

import pytest

from lolzoo.config import ConfigError
from lolzoo.config.load import validate_config
from lolzoo.recipes import plan
from lolzoo.recipes.job import parse_job

from .test_plan import world


def with_count(config: dict, zoo: str, count: int, **reliability) -> dict:
    config["zoos"][zoo]["count"] = count
    config["reliability"].update(reliability)
    return config


@pytest.mark.parametrize("count, share, min_loras, size", [
    (300, 0.2, 30, 60),    # the share rule
    (100, 0.2, 30, 30),    # the floor: 20 would be too few
    (20, 0.2, 30, 20),     # a zoo smaller than the floor is sampled whole
    (6, 0.2, 4, 4),
    (1000, 0.05, 30, 50),
    (10, 1.0, 3, 10),
])
def test_the_sample_is_share_of_the_zoo_at_least_min_loras_at_most_all(count, share, min_loras, size):
    assert plan.reliability_sample_size(count, share, min_loras) == size
    config = with_count(world("test"), "celeba", count, share=share, min_loras=min_loras)
    sample = plan.reliability_sample(config, "celeba")
    ids = [f"celeba-{i:05d}" for i in range(count)]
    assert len(sample) == size and len(set(sample)) == size
    assert sample == [i for i in ids if i in set(sample)]  # listed in id order


def test_the_sample_is_a_pure_seeded_function_of_the_ids():
    config = with_count(world("test"), "celeba", 200)
    assert plan.reliability_sample(config, "celeba") == plan.reliability_sample(with_count(world("test"), "celeba", 200),
                                                                                "celeba")
    reseeded = with_count(world("test"), "celeba", 200)
    reseeded["seed"] = 1
    assert plan.reliability_sample(reseeded, "celeba") != plan.reliability_sample(config, "celeba")
    # a hash position per id, all distinct: the order beyond the floor is the hash's, not the ids'
    positions = [plan.reliability_position(0, f"celeba-{i:05d}") for i in range(200)]
    assert all(0 <= p < 1 for p in positions) and len(set(positions)) == 200


@pytest.mark.parametrize("share, min_loras", [(0.2, 30), (0.2, 4), (0.5, 3), (0.05, 10)])
def test_a_lora_stays_in_the_sample_when_the_zoo_grows(share, min_loras):
    samples = [set(plan.reliability_sample(with_count(world("test"), "celeba", count, share=share,
                                                      min_loras=min_loras), "celeba"))
               for count in (5, 29, 30, 31, 100, 101, 150, 333, 400)]
    for smaller, larger in zip(samples, samples[1:]):
        assert smaller <= larger


def test_beyond_the_floor_members_are_chosen_by_hash_not_by_id():
    sample = plan.reliability_sample(with_count(world("test"), "celeba", 400, min_loras=30), "celeba")
    assert len(sample) == 80 and sample[:30] == [f"celeba-{i:05d}" for i in range(30)]
    late = [lora_id for lora_id in sample if int(lora_id[-5:]) >= 30]  # past the first min_loras ids
    assert len(late) == 50 and int(late[-1][-5:]) > 300  # spread over the whole zoo
    assert plan.reliability_sample(with_count(world("test"), "celeba", 400, min_loras=30), "celeba") == sample


def test_the_sample_is_remeasured_per_shard_with_the_zoos_evaluation_settings():
    config = world("test")  # celeba: 6 LoRAs in shards of 3; reliability.min_loras 4
    shards = plan.reliability_shards(config, "celeba")
    assert sum(len(ids) for ids in shards.values()) == 4
    assert all(set(ids) <= set(plan.shards(config, "celeba")[shard]) for shard, ids in shards.items())
    assert plan.retest_dirs(config, "celeba") == [f"results/celeba/retest/{shard}" for shard in shards]
    recipes = plan.recipes_by_id(config)["celeba"]
    shard, ids = next(iter(shards.items()))
    job = parse_job(json.dumps(plan.retest_job(config, "celeba", [recipes[i] for i in ids])),
                    ("dreambooth-subject",), "diffusion")
    assert [row["lora_id"] for row in job["recipes"]] == ids
    assert job["zoo"]["evaluation"] == config["zoos"]["celeba"]["evaluation"]  # the seed is the flag's
    assert plan.retest_seeds(config, "celeba") == (42, 43) and plan.retest_seeds(config, "arc") is None
    arc_recipe = plan.recipes_by_id(config)["arc"]["arc-00003"]
    language = plan.retest_job(config, "arc", [arc_recipe])
    assert language["recipes"] == [arc_recipe] and "sources" in language["zoo"] and "evaluation" in language["zoo"]


def test_flags_name_the_targets_seeds_and_the_floor():
    config = world("config")
    assert plan.reliability_flags(config, "celeba") == [
        "--min-loras", "30", "--targets", "clip_score,Eyeglasses,Long_Hair,Male,No_Beard,Smiling,Wearing_Hat,Young",
        "--seeds", "42,43"]
    assert plan.reliability_flags(config, "arc") == ["--min-loras", "30", "--targets",
                                                     "has_*,val_loss,arc_c_accuracy"]
    test = world("test")
    assert plan.reliability_flags(test, "celeba")[:2] == ["--min-loras", "4"]


def test_rule_all_asks_for_the_reliability_of_every_evaluated_zoo_with_tasks():
    config = world("test")
    assert plan.reliability_zoos(config) == ["celeba", "arc"]  # not synthetic (not evaluated), not imagenette
    targets = plan.all_targets(config)
    for zoo in ("celeba", "arc"):
        assert f"results/report/{zoo}/reliability.json" in targets and f"results/report/{zoo}/reliability.html" in targets
    assert not any("synthetic/reliability" in t or "imagenette/reliability" in t for t in targets)


@pytest.mark.parametrize("reliability, message", [({"min_loras": 2}, "min_loras"), ({"share": 0}, "share"),
                                                  ({"share": 1.5}, "share"), ({"sample": 3}, "sample")])
def test_the_schema_bounds_the_settings(reliability, message):
    config = world("test")
    config["reliability"] = reliability
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_defaults_are_a_fifth_and_thirty():
    config = world("config")
    assert config["reliability"] == {"share": 0.2, "min_loras": 30}
