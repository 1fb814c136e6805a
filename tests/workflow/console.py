"""What Snakemake prints about the jobs of this workflow, read back as jobs.

Every rule has a `message:` naming its job by its wildcards ("fit {wildcards.model} on
{wildcards.zoo}/{wildcards.task}, seed {wildcards.seed}"), so Snakemake announces a job as
`Job N: fit mlp on synthetic/norms, seed 0` (in a dry run and in a run alike). The rules'
message templates, read from the workflow's files, turn such a line back into the job
(rule, wildcards); a line that matches no template is an error, not a job silently missed.
"""

import re
from collections import Counter
from functools import lru_cache

from tests.conftest import REPO

ANNOUNCED = re.compile(r"^\s*Job \d+: (.*)$")
WILDCARD = re.compile(r"\{wildcards\.(\w+)\}")
# A shard is named after its zoo's LoRAs (the Snakefile's constraint): its zoo needs no mention.
SHARD = r"(?P<shard>(?P<zoo>[a-z][a-z0-9_]*)-\d{5}-\d{5})"


def job(rule: str, **wildcards) -> tuple:
    return rule, tuple(sorted((key, str(value)) for key, value in wildcards.items()))


def rule_messages() -> dict[str, str]:
    """rule -> its message template, from every rule of the Snakefile and workflow/rules/*.smk."""
    messages = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        for block in re.split(r"(?m)^(?=rule \w+:)", path.read_text())[1:]:
            rule = re.match(r"rule (\w+):", block).group(1)
            message = re.search(r'(?m)^    message:\s*"([^"]*)"', block)
            assert message, f"rule {rule} ({path.name}) has no message"
            messages[rule] = message.group(1)
    return messages


@lru_cache(maxsize=1)
def message_patterns() -> dict[str, re.Pattern]:
    patterns = {}
    for rule, template in rule_messages().items():
        parts, names = WILDCARD.split(template), set(WILDCARD.findall(template))
        regex = ""
        for i, part in enumerate(parts):
            if i % 2 == 0:
                regex += re.escape(part)
            elif part == "shard" and "zoo" not in names:
                regex += SHARD
            else:
                regex += rf"(?P<{part}>[^\s/,]+)"
        patterns[rule] = re.compile(regex + "$")
    return patterns


def job_of_message(message: str) -> tuple:
    """The job a rule's message names; exactly one rule's template must match it."""
    matches = [(rule, m) for rule, pattern in message_patterns().items() if (m := pattern.match(message))]
    assert len(matches) == 1, f"{message!r} matches the messages of {[rule for rule, _ in matches] or 'no rule'}"
    rule, match = matches[0]
    return job(rule, **match.groupdict())


def parse_jobs(out: str) -> Counter:
    """The jobs Snakemake announced (a dry run's plan, or a run's started jobs), as a multiset
    of job(rule, **wildcards)."""
    return Counter(job_of_message(match.group(1)) for line in out.splitlines() if (match := ANNOUNCED.match(line)))


def rules_of(jobs: Counter) -> Counter:
    """Jobs per rule."""
    return Counter(rule for rule, _ in jobs.elements())


def wildcard_values(jobs: Counter, name: str) -> set[str]:
    """Every value the wildcard `name` takes among these jobs."""
    return {value for _, wildcards in jobs for key, value in wildcards if key == name}
