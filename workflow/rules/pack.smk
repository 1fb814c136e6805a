# Every LoRA of a zoo, its recipe and its labels, into one Parquet file.
rule gather_labels:
    input:
        shard_outputs(f"{RESULTS}/{{zoo}}/labels/{{shard}}"),
    output:
        f"{RESULTS}/{{zoo}}/labels.csv",
    log:
        f"{RESULTS}/logs/{{zoo}}/gather_labels.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo gather-labels {input} --out {output} > {log} 2>&1"


rule pack:
    input:
        loras=shard_outputs(f"{RESULTS}/{{zoo}}/loras/{{shard}}"),
        labels=f"{RESULTS}/{{zoo}}/labels.csv",
        recipes=f"{RESULTS}/{{zoo}}/recipes.csv",
    output:
        f"{RESULTS}/zoos/{{zoo}}.parquet",
    log:
        f"{RESULTS}/logs/{{zoo}}/pack.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/pack.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo pack --loras {input.loras} --only-labelled --labels {input.labels}"
        " --recipes {input.recipes} --zoo {wildcards.zoo} --out {output} > {log} 2>&1"
