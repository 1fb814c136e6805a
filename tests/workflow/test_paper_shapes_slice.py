"""A slice of the paper-shapes world (config/paper-shapes.yaml, issue 20) run by Snakemake: its
bases linked from the stand-ins' folders, one CelebA DreamBooth LoRA of the SD 1.4 stand-in finetuned at
512 px, sampled, CLIP-scored with the ViT-B/16 stand-in and packed, all at the paper's shapes."""

import yaml
import pytest

from tests.conftest import REPO
from tests.workflow.runner import snakemake


def slice_config(standins) -> dict:
    """paper-shapes.yaml cut to the celeba zoo: one LoRA, one finetuning step, no LoL tasks, its
    paths pointing at the session's stand-ins (built once for every test that needs them; the
    workflow's own build_standins job is the full world's)."""
    config = yaml.safe_load((REPO / "config" / "paper-shapes.yaml").read_text())
    config["zoos"] = {"celeba": config["zoos"]["celeba"]}
    config["zoos"]["celeba"].update(count=1, data_shard_size=1)
    config["zoos"]["celeba"]["hparams"].update(max_train_steps=1, gradient_accumulation_steps=1)
    config["bases"] = {name: config["bases"][name] for name in ("sd", "clip")}
    config["bases"]["sd"]["path"] = str(standins / "sd14")
    config["bases"]["clip"]["path"] = str(standins / "clip" / "open_clip_model.safetensors")
    config["data"] = {"celeba": dict(config["data"]["celeba"], root=str(standins / "CelebA"))}
    del config["standins"]
    config["lol"] = {"tasks": {}, "seeds": [0]}
    return config


# About 4 minutes on 2 idle CPU cores (52 s for the session's stand-ins if no other test built
# them first; 3 minutes for one 512-px finetuning step and a 2-step sample of the 860M-parameter
# UNet, each job loading it): over the minute or so a test may take, so behind `slow` (CI runs
# it; `-m "not slow"` leaves it out).
@pytest.mark.slow
def test_one_celeba_lora_is_finetuned_scored_and_packed_at_the_papers_shapes(tmp_path, paper_standins):
    from lolzoo.zoo.load import load_zoo

    config_path = tmp_path / "slice.yaml"
    config_path.write_text(yaml.safe_dump(slice_config(paper_standins)))
    snakemake(tmp_path, "--configfile", str(config_path), "--cores", "2", "results/zoos/celeba.parquet")

    zoo = load_zoo(tmp_path / "results" / "zoos" / "celeba.parquet")
    assert len(zoo) == 1
    # to_q and to_v of SD 1.4's 16 transformer blocks (self and cross attention): 64 rank-4 matrices
    # whose products hold 46,755,840 numbers, the paper's MLP + Dense input
    assert len(zoo.modules) == 64 and zoo.r_max == 4
    assert sum(u.shape[1] * v.shape[1] for u, v in zip(zoo.U, zoo.V)) == 46_755_840
    cross_v = [k for k, m in enumerate(zoo.modules) if m.name.endswith("attn2.to_v")][0]
    assert zoo.V[cross_v].shape[1] == 768  # cross attention reads CLIP ViT-L/14's 768-wide states
    score = float(zoo.table["clip_score"].iloc[0])
    assert 0.0 <= score <= 100.0  # max(100 cos, 0) of a 512-px sample, scored at 224 px
    benchmarks = tmp_path / "results" / "benchmarks"
    assert (benchmarks / "celeba" / "finetune" / "celeba-00000-00000.tsv").is_file()
    assert (benchmarks / "celeba" / "evaluate" / "celeba-00000-00000.tsv").is_file()
