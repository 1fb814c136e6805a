# lolzoo: zoos of LoRAs and the LoL models that learn on them.
# Thin on purpose: the config is validated first, each stage lives in workflow/rules/,
# and every rule is one `lolzoo <verb>` call.
from snakemake.utils import min_version

min_version("9.0")


# The default world, unless the user names a world (--configfile config/paper.yaml):
# Snakemake would otherwise merge both files, mixing two worlds' zoos.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"



include: "workflow/rules/common.smk"


wildcard_constraints:
    zoo="|".join(config["zoos"]),
    shard=r"[a-z][a-z0-9_]*-\d{5}-\d{5}",


include: "workflow/rules/recipes.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/bases.smk"
include: "workflow/rules/diffusion.smk"
include: "workflow/rules/language.smk"
include: "workflow/rules/synthetic.smk"
include: "workflow/rules/pack.smk"
include: "workflow/rules/lol.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/reliability.smk"
include: "workflow/rules/export.smk"


rule all:
    input:
        plan.all_targets(config),
    message:
        "every target of the world"
    default_target: True
