# Synthetic zoos: random LoRAs whose labels are known GL-invariant functions of ΔW.
# One job per shard writes the same two folders a finetune and an evaluation job write.
rule synthesize_loras:
    output:
        loras=directory(f"{RESULTS}/{{zoo}}/loras/{{shard}}"),
        labels=directory(f"{RESULTS}/{{zoo}}/labels/{{shard}}"),
    params:
        job=shard_job_file("synthesize", "modules", "reparametrise"),
    wildcard_constraints:
        zoo=zoos_of(*SYNTHETIC_TYPES),
    message:
        "synthesize LoRAs {wildcards.shard}"
    log:
        f"{RESULTS}/logs/{{zoo}}/synthesize/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/synthesize_loras/{{zoo}}/{{shard}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo synthesize-shard --job @{params.job} \\
            --out {output.loras} --labels {output.labels} > {log} 2>&1"""
