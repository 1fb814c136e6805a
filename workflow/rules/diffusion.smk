# Diffusion zoos: one DreamBooth LoRA of the SD base per job, then its evaluation
# (CLIP score of its samples, plus the labels of its finetuning data).
rule finetune_diffusion:
    input:
        base=base_dir("base"),
        data=f"{RESULTS}/{{zoo}}/data/{{lora_id}}",
    output:
        lora=directory(f"{RESULTS}/{{zoo}}/loras/{{lora_id}}"),
        curve=f"{RESULTS}/{{zoo}}/train/{{lora_id}}.json",
    params:
        job=lora_job("lora"),
    wildcard_constraints:
        zoo=zoos_of("dreambooth-subject", "dreambooth-classes"),
    log:
        f"{RESULTS}/logs/{{zoo}}/finetune/{{lora_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/finetune/{{lora_id}}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo finetune-diffusion --job {params.job:q} --base {input.base} --data {input.data}"
        " --out {output.lora} --log-json {output.curve} > {log} 2>&1"


rule evaluate_diffusion:
    input:
        base=base_dir("base"),
        clip=base_dir("clip"),
        lora=f"{RESULTS}/{{zoo}}/loras/{{lora_id}}",
        data=f"{RESULTS}/{{zoo}}/data/{{lora_id}}",
    output:
        f"{RESULTS}/{{zoo}}/labels/{{lora_id}}.json",
    params:
        job=lora_job("evaluation"),
    wildcard_constraints:
        zoo=zoos_of("dreambooth-subject", "dreambooth-classes"),
    log:
        f"{RESULTS}/logs/{{zoo}}/evaluate/{{lora_id}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/evaluate/{{lora_id}}.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo evaluate-diffusion --job {params.job:q} --base {input.base} --clip {input.clip}"
        " --lora {input.lora} --data {input.data} --out {output} > {log} 2>&1"
