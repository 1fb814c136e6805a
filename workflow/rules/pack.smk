# Every LoRA of a zoo, its recipe and its labels, into one Parquet file that records where it
# came from: the base's name and weight hash, the config part and lolzoo version (issue 21).
rule gather_labels:
    input:
        labels=shard_outputs(f"{RESULTS}/{{zoo}}/labels/{{shard}}"),
    output:
        f"{RESULTS}/{{zoo}}/labels.csv",
    params:
        labels=inputs_file("labels"),
    message:
        "gather the labels of {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/gather_labels.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/gather_labels/{{zoo}}.tsv"
    threads: 1
    resources:
        **SMALL_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo gather-labels @{params.labels} --out {output} > {log} 2>&1"


rule pack:
    input:
        loras=shard_outputs(f"{RESULTS}/{{zoo}}/loras/{{shard}}"),
        labels=f"{RESULTS}/{{zoo}}/labels.csv",
        recipes=f"{RESULTS}/{{zoo}}/recipes.csv",
        base=bound(plan.zoo_base_dirs, "zoo"),
    output:
        f"{RESULTS}/zoos/{{zoo}}.parquet",
    params:
        loras=inputs_file("loras"),
        base=optional_flag("--base", "base"),
        provenance=provenance_file,
    message:
        "pack zoo {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/pack.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/pack.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo pack --loras @{params.loras} --only-labelled --labels {input.labels} \\
            --recipes {input.recipes} --zoo {wildcards.zoo} {params.base} --provenance {params.provenance} \
            --out {output} > {log} 2>&1"""
