"""How LoL models scale with the size of the base model (paper, figure 5), on this CPU: the
`lolzoo runtime-scaling` verb (lolzoo.report.runtime_scaling), which the workflow also runs.

    python benchmarks/runtime_scaling.py [--kinds glnet,svd] [--sizes 125M,175B] [--out DIR]
"""

import argparse
import sys
from pathlib import Path

from lolzoo.report.runtime_scaling import add_arguments, run

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, default_out=Path("results/benchmarks/runtime_scaling"))
    sys.exit(run(parser.parse_args()))
