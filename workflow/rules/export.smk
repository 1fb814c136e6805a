# What another lab downloads (issue 21): every packed zoo as a Hugging Face dataset folder
# (Parquet shards by the LoL split, a dataset card written from the zoo and its provenance,
# the label reliability where it was measured), and the `lol.publish` models of every task as
# folders `lolzoo predict --model` reads, with a model card. `huggingface-cli upload` of a
# folder publishes it (docs/publishing.md).
rule export_zoo:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
        reliability=bound(plan.reliability_files, "zoo"),
    output:
        directory(f"{plan.EXPORTS}/{{zoo}}"),
    params:
        split=plan.split_flag(config),
        reliability=optional_flag("--reliability", "reliability"),
    message:
        "export zoo {wildcards.zoo} as a dataset folder"
    log:
        f"{RESULTS}/logs/{{zoo}}/export.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/export_zoo/{{zoo}}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo export {input.zoo} --split {params.split} {params.reliability} \\
            --out {output} --overwrite > {log} 2>&1"""


rule export_model:
    input:
        fit=f"{RESULTS}/lol/{{zoo}}/{{task}}/{{model}}",
        reliability=bound(plan.reliability_files, "zoo"),
    output:
        directory(f"{plan.EXPORTS}/models/{{zoo}}/{{task}}/{{model}}"),
    params:
        reliability=optional_flag("--reliability", "reliability"),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
        model=pattern(LOL["publish"]),
    message:
        "publish {wildcards.model} of {wildcards.zoo}/{wildcards.task} as a model folder"
    log:
        f"{RESULTS}/logs/{{zoo}}/export_model/{{task}}-{{model}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/export_model/{{zoo}}/{{task}}-{{model}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo export-model {input.fit} {params.reliability} --out {output} --overwrite > {log} 2>&1"""
