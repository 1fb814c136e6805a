# Language zoos: PEFT LoRAs of a causal LM, each finetuned on the ARC train split without
# its recipe's dropped sources, a shard of LoRAs per job (the base loads once per shard);
# then their evaluation: validation loss and ARC-Challenge accuracy, plus the sources each
# saw. The base is scored once per zoo, so its accuracy sits next to its LoRAs'.
rule finetune_language:
    input:
        base=base_dir("base"),
        data=zoo_data_dir,
    output:
        directory(f"{RESULTS}/{{zoo}}/loras/{{shard}}"),
    params:
        job=shard_job_file("finetune", "lora", "max_length", "micro_batch_size", "max_train_questions",
                           "precision"),
    wildcard_constraints:
        zoo=zoos_of(*LANGUAGE_TYPES),
    message:
        "finetune language LoRAs {wildcards.shard}"
    log:
        f"{RESULTS}/logs/{{zoo}}/finetune/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/finetune/{{shard}}.tsv"
    threads: rule_threads("finetune_language")
    resources:
        **world_resources("finetune_language"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo finetune-language --job @{params.job} \\
            --base {input.base} --data {input.data} --out {output} > {log} 2>&1"""


rule evaluate_language:
    input:
        base=base_dir("base"),
        data=zoo_data_dir,
        loras=f"{RESULTS}/{{zoo}}/loras/{{shard}}",
    output:
        directory(f"{RESULTS}/{{zoo}}/labels/{{shard}}"),
    params:
        job=shard_job_file("evaluate", "lora", "sources", "evaluation", "max_length"),
    wildcard_constraints:
        zoo=zoos_of(*LANGUAGE_TYPES),
    message:
        "evaluate language LoRAs {wildcards.shard}"
    log:
        f"{RESULTS}/logs/{{zoo}}/evaluate/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/evaluate/{{shard}}.tsv"
    threads: rule_threads("evaluate_language")
    resources:
        **world_resources("evaluate_language"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo evaluate-language --job @{params.job} \\
            --base {input.base} --data {input.data} --loras {input.loras} --out {output} > {log} 2>&1"""


rule evaluate_language_base:
    input:
        base=base_dir("base"),
        data=zoo_data_dir,
    output:
        f"{RESULTS}/{{zoo}}/base_eval.json",
    params:
        job=base_job_file("evaluate_base", "lora", "evaluation", "max_length"),
    wildcard_constraints:
        zoo=zoos_of(*LANGUAGE_TYPES),
    message:
        "evaluate the base of {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/evaluate_base.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/evaluate_language_base/{{zoo}}.tsv"
    threads: rule_threads("evaluate_language_base")
    resources:
        **world_resources("evaluate_language_base"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo evaluate-language --job @{params.job} \\
            --base {input.base} --data {input.data} --out {output} > {log} 2>&1"""
