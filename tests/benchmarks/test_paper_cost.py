"""benchmarks/paper_cost.py --quick: every piece measured and counted on tiny shapes, and the
projection's arithmetic against what config/paper.yaml asks for (its LoRAs, jobs and recipes)."""

import importlib.util
import math

import pytest

from tests.conftest import REPO


def module():
    spec = importlib.util.spec_from_file_location("paper_cost", REPO / "benchmarks" / "paper_cost.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("paper_cost") / "cost.json"
    result = module().main(["--quick", "--device", "cpu", "--check-flops", "--threads", "1", "--json", str(path)])
    return result, path


def paper_recipes():
    from lolzoo.config import load_config
    from lolzoo.recipes import plan

    config = load_config(REPO / "config" / "paper.yaml", REPO)
    return config, plan.recipes_by_id(config)


def test_every_piece_is_measured_and_counted(quick_run):
    result, _ = quick_run
    pieces = result["measurements"]["pieces"]
    for name in ("sd-train r4 x1", "sd-train r4 x2", "sd-train r32 x1", "sd-train r32 x2", "sd-denoise", "vae-decode",
                 "clip-score cpu", "lm-train", "lm-score test", "lm-score val", "lol-epoch glnet r4", "lol-epoch mlp r32",
                 "sd-load", "lm-load", "load-shard"):
        assert pieces[name]["seconds"] > 0, name
    for name, piece in pieces.items():
        if name.startswith(("sd-", "vae-", "clip-score", "lm-train", "lm-score")) and "load" not in name:
            assert piece["flops"] > 0, name
    # more LoRAs in a step: more FLOPs and more activations kept for backward
    assert pieces["sd-train r4 x2"]["flops"] > pieces["sd-train r4 x1"]["flops"]
    assert pieces["sd-train r4 x2"]["saved_bytes"] > pieces["sd-train r4 x1"]["saved_bytes"]
    # rank 32 carries more LoRA state than rank 4
    assert pieces["sd-train r32 x1"]["lora_state_bytes"] > pieces["sd-train r4 x1"]["lora_state_bytes"]


def test_the_meta_flop_count_matches_a_count_on_the_real_run(quick_run):
    pieces = quick_run[0]["measurements"]["pieces"]
    checked = [p for p in pieces.values() if "counted_flops" in p]
    assert checked
    for piece in checked:  # flash attention's backward recomputes a little: a few per cent more
        assert 0.95 < piece["counted_flops"] / piece["predicted_flops"] < 1.15


def test_one_lora_per_job_gives_the_papers_job_counts(quick_run):
    projection = quick_run[0]["projection"]
    config, recipes = paper_recipes()
    rows = {(r["zoo"], r["stage"]): r for r in projection["rows"]}
    assert {zoo for zoo, _ in rows} == {"celeba", "imagenette", "imagenette_sd15", "arc"}
    expected = {"celeba": 3900, "imagenette": 2046, "imagenette_sd15": 300, "arc": 2000}
    for zoo, count in expected.items():
        assert rows[zoo, "finetune"]["loras"] == count == config["zoos"][zoo]["count"]
        assert rows[zoo, "finetune"]["jobs"] == count  # shard_size 1: the paper's way
        assert rows[zoo, "evaluate"]["jobs"] == count
        assert 0 < rows[zoo, "retest"]["loras"] < count
    assert sum(r["jobs"] for r in projection["rows"] if r["stage"] == "finetune") == 3900 + 2046 + 300 + 2000
    for row in projection["rows"]:
        assert row["flops"] > 0 and row["gpu_hours"] > 0 and row["device_hours"] > 0
        assert row["gpu_hours_batched"] <= row["gpu_hours"]  # batching only removes per-job overhead here
    totals = projection["totals"]
    assert totals["jobs"] == sum(r["jobs"] for r in projection["rows"])
    assert totals["gpu_hours"] == pytest.approx(sum(r["gpu_hours"] for r in projection["rows"]))


def test_every_lora_is_evaluated_and_the_reliability_sample_once_more(quick_run):
    """The evaluation's FLOPs are one LoRA's times the zoo's LoRAs (a first version counted one
    LoRA's for the whole zoo: the full CPU run showed 1.1 PFLOP for 3,900 CelebA evaluations)."""
    result = quick_run[0]
    paper = result["measurements"]["paper_flops"]
    rows = {(r["zoo"], r["stage"]): r for r in result["projection"]["rows"]}
    for zoo in ("celeba", "imagenette", "imagenette_sd15", "arc"):
        evaluate, retest = rows[zoo, "evaluate"], rows[zoo, "retest"]
        assert evaluate["flops"] / evaluate["loras"] == pytest.approx(retest["flops"] / retest["loras"])
    # a CelebA LoRA: 33 prompts x 20 denoising steps (each step one CFG item), a decode and a score
    one = 33 * (20 * paper["sd-denoise"] + paper["vae-decode"] + paper["clip-score"])
    assert rows["celeba", "evaluate"]["flops"] == pytest.approx(3900 * one)


def test_batched_shards_divide_the_diffusion_zoos(quick_run):
    projection = quick_run[0]["projection"]
    shard = projection["shard"]
    assert 1 <= shard <= 64
    for row in projection["rows"]:
        if row["stage"] in ("finetune", "evaluate") and row["zoo"] != "arc":
            assert row["jobs_batched"] == math.ceil(row["loras"] / shard)
        if row["stage"] in ("finetune", "evaluate") and row["zoo"] == "arc":
            assert row["jobs_batched"] == math.ceil(row["loras"] / 20)
    for memory in projection["memory"].values():
        assert memory["per_lora_bytes"] > 0 and memory["fixed_bytes"] > 0 and memory["fit"] >= 1
        assert memory["how"].startswith("estimated")  # a CPU run says it estimates


def test_the_workload_follows_the_recipes():
    cost = module()
    workload = cost.paper_workload(8, 5)
    _, recipes = paper_recipes()
    celeba = workload["zoos"]["celeba"]
    steps = [r["max_train_steps"] * r["gradient_accumulation_steps"] for r in recipes["celeba"].values()]
    assert sum(celeba["micro_steps"]) == sum(steps)
    assert celeba["expected_micro_steps"] == pytest.approx(150 * 1.5)  # mean of {100,133,167,200} x mean of {1,2}
    assert workload["zoos"]["imagenette"]["micro_steps"] == [150] * 2046
    assert sum(workload["zoos"]["imagenette"]["images"]) == sum(r["num_classes"] for r in recipes["imagenette"].values())
    assert workload["batched_jobs"]["celeba"]["finetune_jobs"] == math.ceil(3900 / 8)
    assert workload["batched_jobs"]["arc"]["finetune_jobs"] == 2000 // 5
    assert [r["epochs"] for r in workload["zoos"]["arc"]["recipes"]] == [
        r["num_epochs"] for r in recipes["arc"].values()]


def test_the_report_prints_the_tables_and_the_json(quick_run, capsys):
    result, path = quick_run
    import json

    written = json.loads(path.read_text())
    assert written["projection"]["totals"]["jobs"] == result["projection"]["totals"]["jobs"]
    text = module().report(result["measurements"], result["projection"])
    for heading in ("## Measured on", "## Assumptions of the projection", "## Memory of a training shard",
                    "## The paper world's cost", "| **total** |", "| utilisation (share of peak) | 0.35 |"):
        assert heading in text
    assert text.count("| celeba |") == 3
