rule recipes:
    output:
        f"{RESULTS}/{{zoo}}/recipes.csv",
    params:
        spec=zoo_spec_json,
    log:
        f"{RESULTS}/logs/{{zoo}}/recipes.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo recipes --config-json {params.spec:q} --zoo {wildcards.zoo} --out {output} > {log} 2>&1"
