"""What jobs ask the scheduler for: every rule declares threads, memory and time; the GPU
rules' amounts come from the config's `resources` section and grow with the attempt; a bad
amount stops the run naming its key; the Slurm profile's grouping option forms groups.
Only dry runs and Snakemake's own rule objects: each test takes seconds."""

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lolzoo.config import ConfigError, validate_config
from tests.conftest import REPO
from tests.workflow.console import parse_jobs, rules_of
from tests.workflow.runner import snakemake

GPU_RULES = {  # a job of each, in the paper world
    "finetune_diffusion": {"zoo": "celeba", "shard": "celeba-00000-00000"},
    "evaluate_diffusion": {"zoo": "imagenette", "shard": "imagenette-00005-00005"},
    "finetune_language": {"zoo": "arc", "shard": "arc-00017-00017"},
    "evaluate_language": {"zoo": "arc", "shard": "arc-00017-00017"},
    "evaluate_language_base": {"zoo": "arc"},
    "fit_lol": {"zoo": "arc", "task": "val_loss", "model": "glnet", "seed": "1"},
}
OWN_RULE_FILES = ["bases", "data", "diffusion", "language", "pack", "recipes", "synthetic", "lol", "report"]

# Loads the workflow through Snakemake's API (as `snakemake` does, in a scratch working
# directory) and prints, as JSON, the resources every rule declares and those Snakemake
# computes for the given jobs on attempts 1, 2 and 3: what the scheduler asks for on a retry.
PROBE = r"""
import json, sys, tempfile
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.iocontainers import InputFiles, Wildcards
from snakemake.settings.types import (ConfigSettings, DeploymentSettings, OutputSettings, ResourceSettings,
                                      StorageSettings, WorkflowSettings)

repo, configfile, jobs = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
with SnakemakeApi(OutputSettings(quiet=True)) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(), config_settings=ConfigSettings(configfiles=[configfile]),
        storage_settings=StorageSettings(), workflow_settings=WorkflowSettings(),
        deployment_settings=DeploymentSettings(), snakefile=repo / "Snakefile",
        workdir=Path(tempfile.mkdtemp()))._workflow
    declared = {rule.name: sorted(rule.resources) for rule in workflow.rules}
    evaluated = {}
    for name, wildcards in jobs.items():
        rule = workflow.get_rule(name)
        evaluated[name] = {
            attempt: dict(rule.expand_resources(Wildcards(fromdict=wildcards), InputFiles(), attempt).items())
            for attempt in (1, 2, 3)}
print("PROBE:" + json.dumps({"declared": declared, "evaluated": evaluated}, default=str))
"""


def probe(configfile: Path, jobs: dict) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, str(REPO), str(configfile), json.dumps(jobs)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("PROBE:"))
    return json.loads(line.removeprefix("PROBE:"))


@pytest.fixture(scope="module")
def paper_world() -> dict:
    return probe(REPO / "config/paper.yaml", GPU_RULES)


def test_every_rule_declares_memory_and_time(paper_world):
    missing = {rule: sorted({"mem_mb", "runtime"} - set(names))
               for rule, names in paper_world["declared"].items() if rule != "all"}
    assert not {rule: names for rule, names in missing.items() if names}
    assert {"fit_lol", "pack", "finetune_data"} <= set(paper_world["declared"])


@pytest.mark.parametrize("name", OWN_RULE_FILES)
def test_every_rule_declares_threads(name):
    """Snakemake gives a rule without `threads` one thread silently: say it explicitly."""
    text = (REPO / "workflow/rules" / f"{name}.smk").read_text()
    blocks = re.split(r"(?m)^(?=rule \w+:)", text)[1:]
    assert blocks, name
    for block in blocks:
        assert re.search(r"(?m)^    threads: ", block), block.splitlines()[0]


def test_gpu_jobs_ask_for_the_paper_world_amounts_times_the_attempt(paper_world):
    wanted = yaml.safe_load((REPO / "config/paper.yaml").read_text())["resources"]
    for rule in GPU_RULES:
        attempts = paper_world["evaluated"][rule]
        base = wanted[rule]
        for attempt in (1, 2, 3):
            got = attempts[str(attempt)]
            assert got["mem_mb"] == base["mem_mb"] * attempt, (rule, attempt, got)
            assert got["runtime"] == base["runtime"] * attempt, (rule, attempt, got)
            assert got["gpu"] == 1 and got["_cores"] == base["threads"], (rule, got)
    # the second attempt of a finetune asks for twice the memory: 16 GB, then 32 GB
    assert paper_world["evaluated"]["finetune_diffusion"]["2"]["mem_mb"] == 32000


def test_the_default_world_gets_the_schema_defaults():
    jobs = {"finetune_diffusion": {"zoo": "celeba", "shard": "celeba-00000-00049"},
            "finetune_language": {"zoo": "arc", "shard": "arc-00000-00009"}}
    world = probe(REPO / "config/config.yaml", jobs)["evaluated"]
    assert world["finetune_diffusion"]["1"]["mem_mb"] == 4000 and world["finetune_diffusion"]["2"]["mem_mb"] == 8000
    assert world["finetune_language"]["1"]["runtime"] == 120 and world["finetune_language"]["3"]["runtime"] == 360
    assert world["finetune_diffusion"]["1"]["gpu"] == 0 and world["finetune_diffusion"]["1"]["_cores"] == 1


def test_schema_fills_every_rule_and_threads():
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    config["resources"] = {"finetune_language": {"mem_mb": 9000, "runtime": 30}}
    validate_config(config, REPO)
    assert config["resources"]["finetune_language"] == {"mem_mb": 9000, "runtime": 30, "threads": 1}
    assert config["resources"]["evaluate_language"] == {"mem_mb": 6000, "runtime": 120, "threads": 1}
    assert set(config["resources"]) == {*GPU_RULES, "fit_lol"}


BROKEN = {
    "negative memory": ({"finetune_diffusion": {"mem_mb": -5, "runtime": 60}},
                        r"config key 'resources\.finetune_diffusion\.mem_mb'.*minimum"),
    "time as text": ({"evaluate_language": {"mem_mb": 6000, "runtime": "2h"}},
                     r"config key 'resources\.evaluate_language\.runtime'.*not of type 'integer'"),
    "memory without time": ({"fit_lol": {"mem_mb": 6000}},
                            r"config key 'resources\.fit_lol'.*'runtime' is a required property"),
    "zero threads": ({"evaluate_diffusion": {"mem_mb": 4000, "runtime": 60, "threads": 0}},
                     r"config key 'resources\.evaluate_diffusion\.threads'"),
    "unknown rule": ({"finetune_difusion": {"mem_mb": 4000, "runtime": 60}},
                     r"unknown config key 'resources\.finetune_difusion'.*known keys here: .*finetune_diffusion"),
    "unknown amount": ({"pack": {"mem_mb": 4000, "runtime": 60}}, r"unknown config key 'resources\.pack'"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_bad_amount_names_its_key(case):
    resources, message = BROKEN[case]
    config = copy.deepcopy(yaml.safe_load((REPO / "config/test.yaml").read_text()))
    config["resources"] = resources
    with pytest.raises(ConfigError, match=message):
        validate_config(config, REPO)


def test_snakemake_stops_on_a_bad_amount_before_any_job(tmp_path):
    config = yaml.safe_load((REPO / "config/test.yaml").read_text())
    config["resources"] = {"finetune_language": {"mem_mb": 0, "runtime": 60}}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path / "work", "-n", "--configfile", str(path), check=False)
    assert result.returncode != 0
    assert "config key 'resources.finetune_language.mem_mb'" in result.stdout + result.stderr


def test_the_slurm_profile_groups_evaluations_ten_at_a_time(tmp_path):
    """The profile's commented grouping block, switched on, is accepted on the paper world and
    packs 12 CLIP-scoring jobs into two submissions (10 + 2)."""
    profile = (REPO / "profiles/slurm/config.yaml").read_text()
    block = profile[profile.index("# groups:"):]
    switched_on = re.sub(r"(?m)^# (?=[a-z-]+:$)", "", block)               # the top-level keys
    switched_on = re.sub(r"(?m)^#   (?=[a-z_]+: \S+$)", "  ", switched_on)  # their entries
    grouped = yaml.safe_load(switched_on)
    assert grouped["groups"]["evaluate_diffusion"] == "clip_scores" and grouped["group-components"]["clip_scores"] == 10
    assert grouped["resources"] == {"gpu": 1} and grouped["set-resource-scopes"] == {"gpu": "local"}
    own = tmp_path / "profile"
    own.mkdir()
    (own / "config.yaml").write_text(profile[:profile.index("# groups:")] + switched_on)
    targets = [f"results/celeba/labels/celeba-{i:05d}-{i:05d}" for i in range(12)]
    out = snakemake(tmp_path / "work", "--profile", str(own), *targets, "-n",
                    "--configfile", str(REPO / "config/paper.yaml")).stdout
    assert out.count("Group job clip_scores") == 2
    assert rules_of(parse_jobs(out))["evaluate_diffusion"] == 12
