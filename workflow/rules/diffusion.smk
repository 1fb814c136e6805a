# Diffusion zoos: DreamBooth LoRAs of the SD base, a shard of LoRAs per job (trained
# together in one batched forward), then their evaluation: CLIP score of each LoRA's
# samples, plus the labels of its finetuning data. Threads are pinned (OMP_NUM_THREADS) so
# that parallel jobs share the cores instead of each taking them all.
rule finetune_diffusion:
    input:
        base=base_dir("base"),
        data=data_shard_dir,
    output:
        directory(f"{RESULTS}/{{zoo}}/loras/{{shard}}"),
    params:
        job=shard_job_file("finetune", "lora", "prior_preservation", "precision"),
    wildcard_constraints:
        zoo=zoos_of(*DIFFUSION_TYPES),
    message:
        "finetune diffusion LoRAs {wildcards.shard}"
    log:
        f"{RESULTS}/logs/{{zoo}}/finetune/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/finetune/{{shard}}.tsv"
    threads: rule_threads("finetune_diffusion")
    resources:
        **world_resources("finetune_diffusion"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo finetune-diffusion --job @{params.job} \\
            --base {input.base} --data {input.data} --out {output} > {log} 2>&1"""


rule evaluate_diffusion:
    input:
        base=base_dir("base"),
        clip=base_dir("clip"),
        loras=f"{RESULTS}/{{zoo}}/loras/{{shard}}",
        data=data_shard_dir,
    output:
        labels=directory(f"{RESULTS}/{{zoo}}/labels/{{shard}}"),
        samples=directory(f"{RESULTS}/{{zoo}}/samples/{{shard}}"),
    params:
        job=shard_job_file("evaluate", "evaluation", "precision"),
        samples_per_shard=2,
    wildcard_constraints:
        zoo=MEASURED_DIFFUSION_PATTERN,
    message:
        "evaluate diffusion LoRAs {wildcards.shard}"
    log:
        f"{RESULTS}/logs/{{zoo}}/evaluate/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/evaluate/{{shard}}.tsv"
    threads: rule_threads("evaluate_diffusion")
    resources:
        **world_resources("evaluate_diffusion"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo evaluate-diffusion --job @{params.job} \\
            --base {input.base} --clip {input.clip} --loras {input.loras} --data {input.data} \\
            --out {output.labels} --samples {output.samples} --samples-for {params.samples_per_shard} \\
            > {log} 2>&1"""


# A diffusion zoo without `evaluation` (its tasks are data labels, as the rank zoo's attributes):
# each LoRA's labels are its finetuning data's, no image is sampled.
rule label_diffusion_data:
    input:
        loras=f"{RESULTS}/{{zoo}}/loras/{{shard}}",
        data=data_shard_dir,
    output:
        labels=directory(f"{RESULTS}/{{zoo}}/labels/{{shard}}"),
    params:
        job=shard_job_file("evaluate", "evaluation"),
    wildcard_constraints:
        zoo=DATA_LABELLED_DIFFUSION_PATTERN,
    message:
        "label diffusion LoRAs {wildcards.shard} by their data"
    log:
        f"{RESULTS}/logs/{{zoo}}/evaluate/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/evaluate/{{shard}}.tsv"
    threads: 1
    resources:
        **SMALL_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo evaluate-diffusion --job @{params.job} \\
            --loras {input.loras} --data {input.data} --out {output.labels} > {log} 2>&1"""
