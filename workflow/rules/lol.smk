# LoL models: each of `lol.models`, and the closed-form reference, on each task of `lol.tasks`:
# one `lolzoo fit-cv` job per (zoo, task, model) that tunes the model on every fold's validation
# loss, refits the chosen setting with every seed of `lol.seeds` and trains the learning curve's
# shares, in one process (torch imported and the zoo read once). The comparisons, figures and
# tables made from the fits are the report's (report.smk).
rule fit_lol:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
    output:
        directory(f"{RESULTS}/lol/{{zoo}}/{{task}}/{{model}}"),
    params:
        flags=fit_flags_file,
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
        task=pattern(sorted({task for tasks in LOL["tasks"].values() for task in tasks})),
        model=pattern([*LOL["models"], plan.REFERENCE]),
    message:
        "tune and cross-validate {wildcards.model} on {wildcards.zoo}/{wildcards.task}"
    log:
        f"{RESULTS}/logs/{{zoo}}/lol/{{task}}/{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/lol/{{task}}-{{model}}.tsv"
    threads: rule_threads("fit_lol")
    resources:
        **world_resources("fit_lol"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo fit-cv --zoo {input.zoo} @{params.flags} \\
            --out {output} > {log} 2>&1"""
