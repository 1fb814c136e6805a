# Finetuning data: each LoRA's own images (a subject's photos, or one image per present
# class) and the labels that follow from them (attributes by majority, present classes),
# one folder per LoRA inside its shard's folder.
rule finetune_data:
    output:
        directory(f"{RESULTS}/{{zoo}}/data/{{shard}}"),
    params:
        job=shard_job(with_data=True),
    log:
        f"{RESULTS}/logs/{{zoo}}/finetune_data/{{shard}}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo finetune-data --job {params.job:q} --out {output} > {log} 2>&1"
