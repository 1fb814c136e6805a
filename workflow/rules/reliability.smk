# How repeatable each evaluated label is (issue 18): a seeded sample of every evaluated zoo's
# LoRAs (reliability.share, at least reliability.min_loras; lolzoo.recipes.plan) is measured
# a second time by the zoo's own evaluation, and `lolzoo reliability` turns the two
# measurements into a reliability and the noise ceiling of R² and Kendall τ it implies.
# Diffusion: the same LoRAs, prompts and settings under evaluation seed + 1 (other sampling
# noise). Language: the evaluation is deterministic, so it is split into even and odd
# questions (Spearman-Brown corrected). The zoo's evaluate rules are left as they are: one
# job per shard that holds sampled LoRAs evaluates those again, with the evaluate rule's
# resources (it has at most as many LoRAs).

rule retest_diffusion:
    input:
        base=base_dir("base"),
        clip=base_dir("clip"),
        loras=f"{RESULTS}/{{zoo}}/loras/{{shard}}",
        data=data_shard_dir,
    output:
        directory(f"{RESULTS}/{{zoo}}/retest/{{shard}}"),
    params:
        job=retest_job_file,
        seed=lambda wildcards: plan.retest_seeds(config, wildcards.zoo)[1],
    wildcard_constraints:
        zoo=RETEST_ZOOS_OF["diffusion"],
    message:
        "evaluate the sampled LoRAs of {wildcards.shard} again under another seed"
    log:
        f"{RESULTS}/logs/{{zoo}}/retest/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/retest/{{shard}}.tsv"
    threads: rule_threads("evaluate_diffusion")
    resources:
        **world_resources("evaluate_diffusion"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo evaluate-diffusion --job @{params.job} --seed {params.seed} \\
            --base {input.base} --clip {input.clip} --loras {input.loras} --data {input.data} \\
            --out {output} > {log} 2>&1"""


rule retest_language:
    input:
        base=base_dir("base"),
        data=zoo_data_dir,
        loras=f"{RESULTS}/{{zoo}}/loras/{{shard}}",
    output:
        directory(f"{RESULTS}/{{zoo}}/retest/{{shard}}"),
    params:
        job=retest_job_file,
    wildcard_constraints:
        zoo=RETEST_ZOOS_OF["language"],
    message:
        "score the sampled LoRAs of {wildcards.shard} on even and odd questions"
    log:
        f"{RESULTS}/logs/{{zoo}}/retest/{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/retest/{{shard}}.tsv"
    threads: rule_threads("evaluate_language")
    resources:
        **world_resources("evaluate_language"),
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo evaluate-language --job @{params.job} --halves \\
            --base {input.base} --data {input.data} --loras {input.loras} --out {output} > {log} 2>&1"""


rule reliability:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
        retest=bound(plan.retest_dirs, "zoo"),
    output:
        json=f"{RESULTS}/report/{{zoo}}/reliability.json",
        csv=f"{RESULTS}/report/{{zoo}}/reliability.csv",
        md=f"{RESULTS}/report/{{zoo}}/reliability.md",
        html=report(
            f"{RESULTS}/report/{{zoo}}/reliability.html",
            caption="../report/reliability.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "label reliability"},
        ),
    params:
        retest=inputs_file("retest"),
        flags=reliability_flags_file,
        table=lambda wildcards, output: Path(output.json).with_suffix(""),
    wildcard_constraints:
        zoo=pattern(RELIABILITY_SHARDS),
    message:
        "reliability of the labels of {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/reliability.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/reliability/{{zoo}}.tsv"
    threads: 1
    resources:
        **SMALL_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo reliability --zoo {input.zoo} --retest @{params.retest} @{params.flags} \\
            --out {params.table} > {log} 2>&1"""
