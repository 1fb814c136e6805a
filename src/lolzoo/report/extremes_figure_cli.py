"""`lolzoo plot-extremes FIT_DIR --base SD_DIR --loras SHARD_DIR... --job JSON --out PNG
[--count K] [--prompts N]`: the paper's figure 3 (lolzoo.report.extremes_figure).

FIT_DIR is one `lolzoo fit` of a regression task with a clip_score target (or a `lolzoo fit-cv`
folder of one: its fold 0 fit at the lowest seed); the K test LoRAs it predicts highest and the
K lowest are sampled, with the base alone, on the first N prompts of
the job's zoo.evaluation (a zoo job: recipes may be empty), from the seeded noise the
evaluation used. Beside the PNG, <out>.json names the LoRAs, their scores, the fit and prompts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lolzoo.errors import UserError

COUNT = 3
PROMPTS = 4


def add_arguments(parser) -> None:
    parser.add_argument("fit", type=Path, metavar="FIT_DIR",
                        help="a `lolzoo fit` (or fit-cv: fold 0, lowest seed) folder of a clip_score regression")
    parser.add_argument("--base", required=True, type=Path, help="the SD-1.x pipeline folder the LoRAs were trained on")
    parser.add_argument("--loras", required=True, nargs="+", type=Path, metavar="SHARD_DIR",
                        help="finetune-diffusion --out folders (one folder per lora_id) holding the chosen LoRAs")
    parser.add_argument("--job", required=True,
                        help='{"zoo": {..., "evaluation": {...}}, "recipes": [...]} as JSON, or @FILE holding it')
    parser.add_argument("--out", required=True, type=Path, help="the figure to write (.png); its .json goes beside it")
    parser.add_argument("--count", type=int, default=COUNT, metavar="K",
                        help=f"LoRAs predicted best and worst, K of each (default {COUNT})")
    parser.add_argument("--prompts", type=int, default=PROMPTS, metavar="N",
                        help=f"the first N evaluation prompts, a column each (default {PROMPTS})")


def run(args) -> int:
    from lolzoo.diffusion.job import evaluation_settings, parse_job, precision
    from lolzoo.report.extremes_figure import extremes_document, find_lora_dirs, pick_extremes, read_clip_fit

    if args.prompts < 1:
        raise UserError(f"--prompts {args.prompts}: must be at least 1")
    job = parse_job(args.job, needs_recipes=False)
    settings, mixed = evaluation_settings(job), precision(job)  # sampled as the evaluation sampled
    # each prompt's noise is seeded alone, so the first N prompts keep the images they were scored on
    settings = dataclasses.replace(settings, prompts=settings.prompts[:args.prompts], images_per_prompt=1)
    fit = read_clip_fit(args.fit)
    picks = pick_extremes(fit.predictions, args.count)
    folders = find_lora_dirs([pick.lora_id for pick in picks], args.loras)
    if not args.base.is_dir():
        raise UserError(f"--base {args.base}: no such folder")

    from lolzoo.bases.loading import load_sd_pipeline
    from lolzoo.diffusion.evaluate import generate, generate_base, load_shard, place_pipeline, use_sampler
    from lolzoo.io import atomic_write_json
    from lolzoo.lora import read_lora
    from lolzoo.report.extremes_figure import extremes_figure
    from lolzoo.report.figure_files import save_figure
    from lolzoo.runtime import pick_device, progress_enabled, quiet_library_progress

    quiet_library_progress()
    pipeline = place_pipeline(load_sd_pipeline(args.base), pick_device(), mixed)
    use_sampler(pipeline, settings.sampler)  # the images the labels were measured on
    base_images = generate_base(pipeline, settings, show_progress=progress_enabled())
    names = [pick.lora_id for pick in picks]
    shard = load_shard(pipeline, [read_lora(folders[name]) for name in names], names)
    lora_images = generate(pipeline, shard, settings, show_progress=progress_enabled())
    shard.detach()

    figure = extremes_figure(settings.prompts, base_images.numpy(), picks, lora_images.numpy(), fit)
    save_figure(figure, args.out)
    atomic_write_json(args.out.with_suffix(".json"), extremes_document(fit, picks, settings.prompts, args.base))
    print(f"{fit.model} seed {fit.seed}: the base and {len(picks)} LoRAs on {len(settings.prompts)} prompts "
          f"-> {args.out}")
    return 0
