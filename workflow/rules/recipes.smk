# Every LoRA of a zoo, its id, seed, rank, hyperparameters and data subset, as a table. The
# job reads only the part of the config the zoo's recipes depend on (lolzoo.recipes.plan.zoo_spec).
rule recipes:
    output:
        f"{RESULTS}/{{zoo}}/recipes.csv",
    params:
        spec=recipes_spec_file,
    message:
        "recipes of {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/recipes.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/recipes/{{zoo}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo recipes --config-json @{params.spec} --zoo {wildcards.zoo} --out {output} > {log} 2>&1"
