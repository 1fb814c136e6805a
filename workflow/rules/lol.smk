# LoL models: each of `lol.models` fitted on each task of `lol.tasks` with each seed of
# `lol.seeds`, one job per fit (metrics, predictions and the model in one folder); then per
# zoo the comparison of every fit: mean ± std over seeds beside a trivial baseline.
rule fit_lol:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
    output:
        directory(f"{RESULTS}/lol/{{zoo}}/{{task}}/{{model}}/seed{{seed}}"),
    params:
        flags=lol_fit_flags,
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
        task="|".join(sorted({task for tasks in LOL["tasks"].values() for task in tasks})) or "(?!)",
        model="|".join(re.escape(model) for model in LOL["models"]),
        seed=r"\d+",
    log:
        f"{RESULTS}/logs/{{zoo}}/lol/{{task}}/{{model}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{zoo}}/lol/{{task}}-{{model}}-seed{{seed}}.tsv"
    threads: rule_threads("fit_lol")
    resources:
        gpu=config["gpus_per_job"],
        mem_mb=attempt_scaled("fit_lol", "mem_mb"),
        runtime=attempt_scaled("fit_lol", "runtime"),
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m lolzoo fit --zoo {input.zoo} {params.flags}"
        " --seed {wildcards.seed} --out {output} > {log} 2>&1"


rule compare_lol:
    input:
        lol_fit_dirs,
    output:
        csv=f"{RESULTS}/report/{{zoo}}/comparison.csv",
        md=f"{RESULTS}/report/{{zoo}}/comparison.md",
        html=report(
            f"{RESULTS}/report/{{zoo}}/comparison.html",
            caption="../report/comparison.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "comparison table"},
        ),
    params:
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/compare_lol.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo compare {input} --out {params.table} > {log} 2>&1"


rule plot_lol:
    input:
        lol_fit_dirs,
    output:
        report(
            f"{RESULTS}/report/{{zoo}}/comparison.png",
            caption="../report/comparison_figure.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "comparison figure"},
        ),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_lol.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo plot-comparison {input} --out {output} > {log} 2>&1"


rule plot_predictions_lol:
    input:
        lol_fit_dirs,
    output:
        report(
            f"{RESULTS}/report/{{zoo}}/predictions.png",
            caption="../report/predictions_figure.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "predicted vs true"},
        ),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_predictions_lol.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo plot-predictions {input} --out {output} > {log} 2>&1"


rule plot_labels_lol:
    input:
        lol_fit_dirs,
    output:
        report(
            f"{RESULTS}/report/{{zoo}}/labels.png",
            caption="../report/labels_figure.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "accuracy per label"},
        ),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_labels_lol.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo plot-labels {input} --out {output} > {log} 2>&1"


# The paper's figure 3: the base's samples beside the test LoRAs one fit predicts best and worst
# on CLIP score (common.smk's extremes_fit), sampled again as their evaluation sampled them.
rule plot_extremes_lol:
    input:
        fit=extremes_fit_dir,
        base=base_dir("base"),
        loras=shard_outputs(f"{RESULTS}/{{zoo}}/loras/{{shard}}"),
    output:
        png=report(
            f"{RESULTS}/report/{{zoo}}/extremes.png",
            caption="../report/extremes.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "best and worst predicted"},
        ),
        json=f"{RESULTS}/report/{{zoo}}/extremes.json",
    params:
        job=zoo_job("evaluation"),
    wildcard_constraints:
        zoo=EXTREMES_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_extremes_lol.log",
    threads: 1
    resources:  # the evaluation's pipeline, for a few LoRAs: its memory, a GPU where it has one
        gpu=config["gpus_per_job"],
        mem_mb=attempt_scaled("evaluate_diffusion", "mem_mb"),
        runtime=30,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m lolzoo plot-extremes {input.fit} --base {input.base}"
        " --loras {input.loras} --job {params.job:q} --out {output.png} > {log} 2>&1"


# Rank generalisation: the fits of tasks trained on some ranks only, scored per LoRA rank.
rule rank_generalisation_lol:
    input:
        fits=rank_fit_dirs,
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
    output:
        csv=f"{RESULTS}/report/{{zoo}}/ranks.csv",
        html=report(
            f"{RESULTS}/report/{{zoo}}/ranks.html",
            caption="../report/ranks.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "rank generalisation table"},
        ),
        png=report(
            f"{RESULTS}/report/{{zoo}}/ranks.png",
            caption="../report/ranks.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "rank generalisation figure"},
        ),
    params:
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/rank_generalisation_lol.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo rank-generalisation {input.fits} --zoo {input.zoo} --out {params.table} > {log} 2>&1"


# Cross-base transfer: a zoo's fits tested on the LoRAs of sibling bases (lol.transfer).
rule transfer_lol:
    input:
        fits=lol_fit_dirs,
        zoos=transfer_zoos,
    output:
        csv=f"{RESULTS}/report/{{zoo}}/transfer.csv",
        md=f"{RESULTS}/report/{{zoo}}/transfer.md",
        html=report(
            f"{RESULTS}/report/{{zoo}}/transfer.html",
            caption="../report/transfer.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "cross-base transfer"},
        ),
    params:
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo="|".join(LOL["transfer"]) or "(?!)",
    log:
        f"{RESULTS}/logs/{{zoo}}/transfer_lol.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m lolzoo transfer {input.fits} --zoo {input.zoos} --out {params.table}"
        " > {log} 2>&1"


# What the LoL models are for: labelling a LoRA without generating images or answering ARC.
rule speedup_lol:
    input:
        fits=lol_fit_dirs,
        evaluation=zoo_benchmarks("evaluate"),
    output:
        csv=f"{RESULTS}/report/{{zoo}}/speedup.csv",
        html=report(
            f"{RESULTS}/report/{{zoo}}/speedup.html",
            caption="../report/speedup.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "evaluation speed-up"},
        ),
    params:
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    log:
        f"{RESULTS}/logs/{{zoo}}/speedup_lol.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "python -m lolzoo speedup {input.fits} --evaluation-benchmarks {input.evaluation} --out {params.table}"
        " > {log} 2>&1"


# The paper's figure 5 on this machine: LoL time per LoRA as the base model grows.
rule runtime_scaling:
    output:
        report(
            directory(f"{RESULTS}/report/runtime_scaling"),
            patterns=["{name}.png"],
            caption="../report/runtime_scaling.rst",
            category="LoL models",
            subcategory="runtime scaling",
            labels={"result": "{name}"},
        ),
    params:
        kinds=",".join(LOL["models"]),
        sizes=lambda wildcards: ",".join(LOL["runtime_scaling"]["sizes"]),
        memory_gb=lambda wildcards: LOL["runtime_scaling"]["memory_gb"],
        repeats=lambda wildcards: LOL["runtime_scaling"]["repeats"],
    log:
        f"{RESULTS}/logs/runtime_scaling.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards: int(LOL["runtime_scaling"]["memory_gb"] * 1024 * 1.5),
        runtime=120,
    conda:
        "../../envs/lolzoo.yaml"
    shell:
        "OMP_NUM_THREADS={threads} python -m lolzoo runtime-scaling --kinds {params.kinds} --sizes {params.sizes}"
        " --memory-gb {params.memory_gb} --repeats {params.repeats} --out {output} > {log} 2>&1"
