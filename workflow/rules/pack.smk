# Every LoRA of a zoo, its recipe and its labels, into one Parquet file.
rule gather_labels:
    input:
        lora_outputs(f"{RESULTS}/{{zoo}}/labels/{{lora_id}}.json"),
    output:
        f"{RESULTS}/{{zoo}}/labels.csv",
    log:
        f"{RESULTS}/logs/{{zoo}}/gather_labels.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo gather-labels {input} --out {output} > {log} 2>&1"


rule pack:
    input:
        loras=lora_outputs(f"{RESULTS}/{{zoo}}/loras/{{lora_id}}"),
        labels=f"{RESULTS}/{{zoo}}/labels.csv",
        recipes=f"{RESULTS}/{{zoo}}/recipes.csv",
    output:
        f"{RESULTS}/zoos/{{zoo}}.parquet",
    params:
        loras=lambda wildcards: f"{RESULTS}/{wildcards.zoo}/loras",
    log:
        f"{RESULTS}/logs/{{zoo}}/pack.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/pack.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo pack --loras {params.loras} --only-labelled --labels {input.labels}"
        " --recipes {input.recipes} --zoo {wildcards.zoo} --out {output} > {log} 2>&1"
