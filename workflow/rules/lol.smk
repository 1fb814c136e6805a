# LoL models: each of `lol.models` fitted on each task of `lol.tasks` with each seed of
# `lol.seeds`, one job per fit (metrics, predictions and the model in one folder). The
# comparisons, figures and tables made from the fits are the report's (report.smk).
rule fit_lol:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
    output:
        directory(f"{RESULTS}/lol/{{zoo}}/{{task}}/{{model}}/seed{{seed}}"),
    params:
        flags=fit_flags_file,
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
        task=pattern(sorted({task for tasks in LOL["tasks"].values() for task in tasks})),
        model=pattern(LOL["models"]),
        seed=r"\d+",
    message:
        "fit {wildcards.model} on {wildcards.zoo}/{wildcards.task}, seed {wildcards.seed}"
    log:
        f"{RESULTS}/logs/{{zoo}}/lol/{{task}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/lol/{{task}}-{{model}}-seed{{seed}}.tsv"
    threads: rule_threads("fit_lol")
    resources:
        **world_resources("fit_lol"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo fit --zoo {input.zoo} @{params.flags} \\
            --seed {wildcards.seed} --out {output} > {log} 2>&1"""
