# The report: per zoo with LoL tasks, the comparison of every fit (95% intervals over folds ×
# seeds beside the ridge reference, the trivial baseline and the noise ceiling), the tuned
# settings, the learning curves and the figures, rank generalisation, cross-base transfer, the
# speed-up over the standard evaluation, and the zoo's summary; `snakemake --report
# report.html` gathers them with the captions of workflow/report/. Each job reads a zoo's
# long list of fit folders from an argument file (inputs_file), so its shell line is short.
report: "../report/workflow.rst"


rule compare_lol:
    input:
        fits=bound(plan.compared_dirs, "zoo"),
        reliability=bound(plan.reliability_files, "zoo"),
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
        tuning_csv=f"{RESULTS}/report/{{zoo}}/tuning.csv",
        tuning_md=f"{RESULTS}/report/{{zoo}}/tuning.md",
        tuning_html=report(
            f"{RESULTS}/report/{{zoo}}/tuning.html",
            caption="../report/tuning.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "tuned settings"},
        ),
    params:
        fits=inputs_file("fits"),
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
        tuning=lambda wildcards, output: Path(output.tuning_csv).with_suffix(""),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "compare the fits on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/compare_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/compare_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo compare @{params.fits} --reliability {input.reliability} --out {params.table} \\
            --tuning {params.tuning} > {log} 2>&1"""


# Learning curves: every model's and the reference's cross-validated score at each share of the
# training LoRAs (lol.learning_curve), with the trivial baseline and the noise ceiling as lines.
rule plot_learning_curves_lol:
    input:
        fits=bound(plan.compared_dirs, "zoo"),
        reliability=bound(plan.reliability_files, "zoo"),
    output:
        png=report(
            f"{RESULTS}/report/{{zoo}}/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "learning curves"},
        ),
        csv=f"{RESULTS}/report/{{zoo}}/learning_curves.csv",
    params:
        fits=inputs_file("fits"),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "plot the learning curves on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_learning_curves_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/plot_learning_curves_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo plot-learning-curves @{params.fits} --reliability {input.reliability} \\
            --out {output.png} > {log} 2>&1"""


rule plot_lol:
    input:
        fits=bound(plan.zoo_fit_dirs, "zoo"),
    output:
        report(
            f"{RESULTS}/report/{{zoo}}/comparison.png",
            caption="../report/comparison_figure.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "comparison figure"},
        ),
    params:
        fits=inputs_file("fits"),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "plot the comparison on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/plot_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo plot-comparison @{params.fits} --out {output} > {log} 2>&1"


rule plot_predictions_lol:
    input:
        fits=bound(plan.zoo_fit_dirs, "zoo"),
    output:
        report(
            f"{RESULTS}/report/{{zoo}}/predictions.png",
            caption="../report/predictions_figure.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "predicted vs true"},
        ),
    params:
        fits=inputs_file("fits"),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "plot predicted vs true on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_predictions_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/plot_predictions_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo plot-predictions @{params.fits} --out {output} > {log} 2>&1"


rule plot_labels_lol:
    input:
        fits=bound(plan.zoo_fit_dirs, "zoo"),
    output:
        report(
            f"{RESULTS}/report/{{zoo}}/labels.png",
            caption="../report/labels_figure.rst",
            category="LoL models",
            subcategory="{zoo}",
            labels={"result": "accuracy per label"},
        ),
    params:
        fits=inputs_file("fits"),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "plot accuracy per label on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_labels_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/plot_labels_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo plot-labels @{params.fits} --out {output} > {log} 2>&1"


# The paper's figure 3: the base's samples beside the test LoRAs one fit predicts best and worst
# on CLIP score (lolzoo.recipes.plan.extremes_fit), sampled again as their evaluation sampled them.
rule plot_extremes_lol:
    input:
        fit=bound(plan.extremes_fit, "zoo"),
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
        loras=inputs_file("loras"),
        job=base_job_file("extremes", "evaluation", "precision"),
    wildcard_constraints:
        zoo=EXTREMES_ZOO_PATTERN,
    message:
        "plot the best and worst predicted LoRAs of {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/plot_extremes_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/plot_extremes_lol/{{zoo}}.tsv"
    threads: 1
    resources:  # the evaluation's pipeline, for a few LoRAs: its memory, a GPU where it has one
        gpu=config["gpus_per_job"],
        mem_mb=attempt_scaled("evaluate_diffusion", "mem_mb"),
        runtime=30,
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo plot-extremes {input.fit} --base {input.base} \\
            --loras @{params.loras} --job @{params.job} --out {output.png} > {log} 2>&1"""


# Rank generalisation: the fits of tasks trained on some ranks only, scored per LoRA rank.
rule rank_generalisation_lol:
    input:
        fits=bound(plan.rank_fit_dirs, "zoo"),
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
        fits=inputs_file("fits"),
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "rank generalisation on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/rank_generalisation_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/rank_generalisation_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo rank-generalisation @{params.fits} --zoo {input.zoo} --out {params.table} > {log} 2>&1"


# Cross-base transfer: a zoo's fits tested on the LoRAs of sibling bases (lol.transfer).
rule transfer_lol:
    input:
        fits=bound(plan.zoo_fit_dirs, "zoo"),
        zoos=bound(plan.transfer_zoos, "zoo"),
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
        fits=inputs_file("fits"),
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo=pattern(LOL["transfer"]),
    message:
        "transfer of the fits on {wildcards.zoo} to its siblings"
    log:
        f"{RESULTS}/logs/{{zoo}}/transfer_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/transfer_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """OMP_NUM_THREADS={threads} python -m lolzoo transfer @{params.fits} --zoo {input.zoos} \\
            --out {params.table} > {log} 2>&1"""


# What the LoL models are for: labelling a LoRA without generating images or answering ARC.
rule speedup_lol:
    input:
        fits=bound(plan.zoo_fit_dirs, "zoo"),
        evaluation=lambda wildcards: plan.job_benchmarks(config, wildcards.zoo, ["evaluate"]),
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
        fits=inputs_file("fits"),
        evaluation=inputs_file("evaluation"),
        table=lambda wildcards, output: Path(output.csv).with_suffix(""),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "speed-up of the LoL models on {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/speedup_lol.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/speedup_lol/{{zoo}}.tsv"
    threads: 1
    resources:
        **SMALL_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo speedup @{params.fits} --evaluation-benchmarks @{params.evaluation} \\
            --out {params.table} > {log} 2>&1"""


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
    message:
        "LoL runtime scaling"
    log:
        f"{RESULTS}/logs/runtime_scaling.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/runtime_scaling/all.tsv"
    threads: 1
    resources:
        mem_mb=lambda wildcards: plan.runtime_scaling_mem_mb(config),
        runtime=120,
    conda:
        LOLZOO_ENV
    shell:
        "OMP_NUM_THREADS={threads} python -m lolzoo runtime-scaling --kinds {params.kinds} --sizes {params.sizes}"
        " --memory-gb {params.memory_gb} --repeats {params.repeats} --out {output} > {log} 2>&1"


# What `snakemake --report report.html` gathers beside the LoL comparisons: per zoo, its
# size and shape, its labels' distributions, and the time and memory of the jobs that made
# it (from their benchmark files).
rule summarize_zoo:
    input:
        zoo=f"{RESULTS}/zoos/{{zoo}}.parquet",
        benchmarks=lambda wildcards: plan.job_benchmarks(config, wildcards.zoo, ["finetune", "evaluate"]),
    output:
        report(
            directory(f"{RESULTS}/report/{{zoo}}/summary"),
            patterns=["{name}.html"],
            caption="../report/zoo_summary.rst",
            category="Zoos",
            subcategory="{zoo}",
            labels={"table": "{name}"},
        ),
    params:
        benchmarks=inputs_file("benchmarks"),
    wildcard_constraints:
        zoo=LOL_ZOO_PATTERN,
    message:
        "summarize zoo {wildcards.zoo}"
    log:
        f"{RESULTS}/logs/{{zoo}}/summarize_zoo.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/summarize_zoo/{{zoo}}.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo summarize-zoo --zoo {input.zoo} --benchmarks @{params.benchmarks} --out {output} > {log} 2>&1"


# The results document: the world's claims decided from the intervals, and every zoo's report
# tables copied into one Markdown file (docs/results.md is the default world's copy). It reads
# the fit-cv folders too: the claims' paired differences (model against MLP or baseline) are
# recomputed from them.
rule results_doc:
    input:
        tables=lambda wildcards: plan.results_doc_inputs(config),
        fits=lambda wildcards: plan.results_doc_fits(config),
    output:
        plan.RESULTS_DOC,
    params:
        fits=lambda wildcards, input: write_arg_file(file_list(input.fits), f"{plan.JOBS}/report", "results_doc"),
        zoos=plan.results_doc_zoos(config),
        world=config["world"],
        command=plan.results_doc_command(config),
    message:
        "write the results document"
    log:
        f"{RESULTS}/logs/results_doc.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/results_doc/all.tsv"
    threads: 1
    resources:
        **REPORT_JOB,
    conda:
        LOLZOO_ENV
    shell:
        """python -m lolzoo results-doc @{params.fits} --world {params.world:q} --command {params.command:q} \\
            --zoo {params.zoos} --out {output} > {log} 2>&1"""
