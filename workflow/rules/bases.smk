# Base models. Tiny bases of the default world are built offline from a seed; pretraining
# them (and shipping the result) is the next step, so for now they are the untrained builds.
rule build_base:
    output:
        directory(f"{RESULTS}/bases/{{base}}"),
    params:
        kind=lambda wildcards: config["bases"][wildcards.base]["kind"],
        seed=lambda wildcards: config["bases"][wildcards.base].get("seed", 0),
    wildcard_constraints:
        base=names_pattern(config["bases"], "kind", ("tiny-sd", "tiny-clip")),
    log:
        f"{RESULTS}/logs/bases/{{base}}.log",
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo build-base --kind {params.kind} --seed {params.seed} --out {output} > {log} 2>&1"
