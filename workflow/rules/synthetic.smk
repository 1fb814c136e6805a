# Synthetic zoos: random LoRAs whose labels are known GL-invariant functions of ΔW.
# One job per LoRA writes the same two files a finetune-and-evaluate pair of jobs writes.
rule synthesize_lora:
    output:
        lora=directory(f"{RESULTS}/{{zoo}}/loras/{{lora_id}}"),
        labels=f"{RESULTS}/{{zoo}}/labels/{{lora_id}}.json",
    params:
        job=lora_job("modules", "reparametrise"),
    wildcard_constraints:
        zoo=zoos_of("synthetic"),
    log:
        f"{RESULTS}/logs/{{zoo}}/synthesize/{{lora_id}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo synthesize --job {params.job:q} --out {output.lora} --labels {output.labels} > {log} 2>&1"
