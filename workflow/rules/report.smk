# What `snakemake --report report.html` gathers beside the LoL comparisons: per zoo, its
# size and shape, its labels' distributions, and the time and memory of the jobs that made
# it (from their benchmark files).
report: "../report/workflow.rst"


rule summarize_zoo:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
        benchmarks=zoo_benchmarks("finetune", "evaluate"),
    output:
        report(
            directory(f"{RESULTS}/report/{{zoo}}/summary"),
            patterns=["{name}.html"],
            caption="../report/zoo_summary.rst",
            category="Zoos",
            subcategory="{zoo}",
            labels={"table": "{name}"},
        ),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/summarize_zoo.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo summarize-zoo --zoo {input.zoo} --benchmarks {input.benchmarks} --out {output} > {log} 2>&1"
