"""Snakemake as the workflow tests drive it: a subprocess on the repository's Snakefile in a
working directory of the test's own, and the job counts of a dry run."""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# Snakemake's job-stats table: a header, a rule and its job count per line, the total.
STATS = re.compile(r"(?m)^job +count\n-+ +-+\n(?P<rows>(?:\w+ +\d+\n)+)total +(?P<total>\d+)$")


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800,
                            env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def dry_run_jobs(workdir: Path, *args: str, targets: tuple[str, ...] = ()) -> dict[str, int]:
    """Job counts per rule, from the job-stats table of `snakemake -n` ({} when Snakemake says
    there is nothing to be done). An output with neither fails: a changed format must not read
    as an empty plan. Targets go first: --quiet and --configfile would take them as their own values."""
    out = snakemake(workdir, *targets, "-n", "--quiet", "rules", *args).stdout
    table = STATS.search(out)
    if table is None:
        assert "Nothing to be done" in out, f"neither a job-stats table nor 'Nothing to be done':\n{out[-3000:]}"
        return {}
    counts = {rule: int(count) for rule, count in (line.split() for line in table.group("rows").splitlines())}
    assert sum(counts.values()) == int(table.group("total")), table.group(0)
    return counts
