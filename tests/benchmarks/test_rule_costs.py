"""benchmarks/rule_costs.py: benchmark files of a run -> wall time and peak memory per rule."""

import importlib.util

import pytest

from tests.conftest import REPO


def costs():
    spec = importlib.util.spec_from_file_location("rule_costs", REPO / "benchmarks" / "rule_costs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(path, seconds, rss_mb):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\tmax_vms\n"f"{seconds}\t0:00:00\t{rss_mb}\t1\n")


def test_jobs_are_grouped_by_rule_or_zoo_stage_with_their_time_and_peak(tmp_path, capsys):
    bench = tmp_path / "benchmarks"
    write(bench / "celeba" / "finetune" / "celeba-00000-00000.tsv", 30.0, 7000)
    write(bench / "celeba" / "finetune" / "celeba-00001-00001.tsv", 50.0, 7168)
    write(bench / "celeba" / "pack.tsv", 2.0, 300)
    write(bench / "bases" / "pretrain" / "sd.tsv", 9.0, 900)
    write(bench / "rules" / "finetune_data" / "celeba" / "celeba-00000-00001.tsv", 4.0, 512)
    write(bench / "rules" / "results_doc" / "all.tsv", 1.0, 100)
    table = costs().rule_costs(tmp_path)
    assert list(table.index) == ["finetune (celeba)", "pretrain_base", "finetune_data", "pack (celeba)", "results_doc"]
    row = table.loc["finetune (celeba)"]
    assert (row["jobs"], row["total_s"], row["max_s"], row["peak_rss_gb"]) == (2, 80.0, 50.0, 7.0)
    assert costs().main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| finetune (celeba)" in out and "6 jobs" in out and "largest peak 7.00 GB" in out


def test_a_folder_without_benchmarks_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no benchmark files"):
        costs().rule_costs(tmp_path)
