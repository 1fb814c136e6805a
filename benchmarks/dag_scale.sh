#!/usr/bin/env bash
# How long Snakemake takes to build a world's DAG: a dry run of the paper world (about
# 22,000 jobs) in an empty scratch working directory, its wall time against a limit, and
# the jobs per rule as a table.
#
#   benchmarks/dag_scale.sh                      # config/paper.yaml, limit 60 s
#   benchmarks/dag_scale.sh --limit 90 config/small.yaml
#   DAG_TIME_LIMIT=90 benchmarks/dag_scale.sh
#
# Exit status: 0 when the dry run succeeds within the limit, 1 when it fails (its output is
# printed), 2 when it succeeds but takes longer than the limit, 64 on a usage error.
# SNAKEMAKE names the snakemake to run (default: the repository's .venv, else PATH).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIMIT="${DAG_TIME_LIMIT:-60}"
CONFIG="$REPO/config/paper.yaml"

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --limit) [ $# -ge 2 ] || { usage >&2; exit 64; }; LIMIT="$2"; shift 2 ;;
        --limit=*) LIMIT="${1#--limit=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "dag_scale.sh: unknown option $1" >&2; usage >&2; exit 64 ;;
        *) CONFIG="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift ;;
    esac
done
if ! [[ "$LIMIT" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "dag_scale.sh: the time limit must be a number of seconds, got '$LIMIT'" >&2
    exit 64
fi
[ -f "$CONFIG" ] || { echo "dag_scale.sh: no config file $CONFIG" >&2; exit 64; }

if [ -z "${SNAKEMAKE:-}" ]; then
    if [ -x "$REPO/.venv/bin/snakemake" ]; then SNAKEMAKE="$REPO/.venv/bin/snakemake"; else SNAKEMAKE=snakemake; fi
fi
# a dry run needs no threads; on a shared machine, take none from the others
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

WORKDIR="$(mktemp -d)"
OUT="$(mktemp)"
trap 'rm -rf "$WORKDIR" "$OUT"' EXIT

START=$(date +%s.%N)
set +e
# --configfile takes every word after it as a config file: it comes last
"$SNAKEMAKE" -s "$REPO/Snakefile" --directory "$WORKDIR" -n --quiet rules --configfile "$CONFIG" >"$OUT" 2>&1
STATUS=$?
set -e
END=$(date +%s.%N)
SECONDS_TAKEN=$(awk -v a="$START" -v b="$END" 'BEGIN { printf "%.1f", b - a }')

echo "dag_scale: dry run of $(basename "$CONFIG") in a scratch directory ($(basename "$SNAKEMAKE") $("$SNAKEMAKE" --version))"
if [ "$STATUS" -ne 0 ]; then
    cat "$OUT"
    echo "FAIL: the dry run exited with status $STATUS after ${SECONDS_TAKEN} s"
    exit 1
fi

# the first "Job stats" table: rule and count per line, up to its total
awk '
    /^Job stats:/ && !seen { seen = 1; inside = 1; next }
    inside && $1 == "total" { total = $2; inside = 0; next }
    inside && NF == 2 && $2 ~ /^[0-9]+$/ { rules[++n] = $1; counts[n] = $2 }
    END {
        printf "\n%-26s %8s\n", "rule", "jobs"
        printf "%-26s %8s\n", "--------------------------", "--------"
        for (i = 1; i <= n; i++) printf "%-26s %8d\n", rules[i], counts[i]
        printf "%-26s %8d\n\n", "total", total
    }' "$OUT"

echo "wall time: ${SECONDS_TAKEN} s (limit ${LIMIT} s)"
if awk -v t="$SECONDS_TAKEN" -v l="$LIMIT" 'BEGIN { exit !(t <= l) }'; then
    echo "PASS: the DAG was built within ${LIMIT} s"
else
    echo "FAIL: the DAG took ${SECONDS_TAKEN} s, over the limit of ${LIMIT} s"
    exit 2
fi
