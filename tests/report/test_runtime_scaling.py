"""`lolzoo runtime-scaling` (the paper's figure 5): a timing per model and size, OOM marked
without trying, and the table and figure written together."""

from __future__ import annotations

import csv

from lolzoo.cli import main
from lolzoo.report.runtime_scaling import measure, needed_bytes


def test_times_what_fits_and_marks_the_rest_oom(tmp_path, capsys):
    rows = measure(["glnet", "dense"], ["125M"], memory_gb=0.5, hidden=64, repeats=1)
    by_kind = {row["kind"]: row for row in rows}
    assert list(by_kind) == ["read floor", "glnet", "dense"]
    assert by_kind["glnet"]["total_ms"] > 0 and by_kind["glnet"]["x_floor"] > 0
    need = needed_bytes("dense", 12, 768, 64)
    assert need > 0.5 * 2 ** 30 and by_kind["dense"]["note"] == f"OOM: needs ~{need / 2 ** 30:.0f} GB"

    assert main(["runtime-scaling", "--kinds", "svd", "--sizes", "125M", "--repeats", "1",
                 "--out", str(tmp_path / "scaling")]) == 0
    with open(tmp_path / "scaling" / "runtime_scaling.csv") as handle:
        written = list(csv.DictReader(handle))
    assert [row["kind"] for row in written] == ["read floor", "svd"] and float(written[1]["total_ms"]) > 0
    assert (tmp_path / "scaling" / "runtime_scaling.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["runtime-scaling", "--sizes", "42B", "--out", str(tmp_path / "x")]) == 2
    assert "unknown sizes ['42B']" in capsys.readouterr().err
