"""PEFT's LoraConfig fields (r, lora_alpha, rank_pattern, alpha_pattern, use_rslora) <-> per-module alphas.

Used for PEFT's adapter_config.json and for the same dict diffusers stores in a safetensors
file's `lora_adapter_metadata`. The canonical alpha is the one with ΔW = (alpha / r) B A,
so rank-stabilised LoRA (scale lora_alpha / sqrt(r)) is folded in as lora_alpha * sqrt(r).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping

from lolzoo.lora.types import LoraFormatError, LoraModule

# Pattern keys are regexes matched against every module path, so a hostile config could make
# that unbounded work. PEFT writes plain module paths; we also allow one quantifier (".*"),
# never a quantified group ("(a*)*" takes exponential time), and at most this many keys.
MAX_PATTERN_KEYS = 4096
_QUANTIFIED_GROUP = re.compile(r"\)[*+?{]")
_QUANTIFIER = re.compile(r"[*+{]|(?<!\()\?")


def get_pattern_key(pattern_keys: Iterable[str], key_to_match: str) -> str:
    """PEFT's own rule (peft.utils.other.get_pattern_key, checked equal in the tests); copied
    because importing peft costs seconds and `lolzoo inspect` should not."""
    for key in pattern_keys:
        if _suffix_regex(key).match(key_to_match):
            return key
    return key_to_match


@functools.lru_cache(maxsize=2 * MAX_PATTERN_KEYS)  # re's own cache holds 512: more keys would recompile per module
def _suffix_regex(key: str) -> re.Pattern:
    return re.compile(rf"(.*\.)?({key})$")


class AlphaResolver:
    """Alpha of every module of one adapter, as PEFT computes it when it builds the layers."""

    def __init__(self, config: Mapping, source: str):
        self.source = source
        peft_type = config.get("peft_type")
        if peft_type not in (None, "LORA"):
            raise LoraFormatError(f"{source}: not a LoRA adapter (peft_type={peft_type!r})")
        if config.get("lora_bias"):
            raise LoraFormatError(f"{source}: LoRA biases (lora_bias=true) are not a plain LoRA; not supported")
        self.use_dora = self._flag(config, "use_dora")
        # Missing keys take LoraConfig's defaults, as peft does when it loads the config.
        self.r = self._number(config, "r", default=8)
        self.lora_alpha = self._number(config, "lora_alpha", default=8)
        self.rank_pattern = self._pattern(config, "rank_pattern")
        self.alpha_pattern = self._pattern(config, "alpha_pattern")
        self.use_rslora = self._flag(config, "use_rslora")

    def alpha(self, path: str, rank: int) -> float:
        configured_rank = self.rank_pattern.get(get_pattern_key(self.rank_pattern, path), self.r)
        if int(configured_rank) != rank:  # peft would refuse to load these tensors
            raise LoraFormatError(f"{self.source}: {path}: the config gives r={configured_rank} "
                                  f"but the tensors have rank {rank}")
        alpha = float(self.alpha_pattern.get(get_pattern_key(self.alpha_pattern, path), self.lora_alpha))
        return alpha * math.sqrt(rank) if self.use_rslora else alpha

    def _flag(self, config: Mapping, key: str) -> bool:
        value = config.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):  # bool("false") is True: a string would silently flip the meaning
            raise LoraFormatError(f"{self.source}: config key {key!r} must be true or false, got {value!r}")
        return value

    def _number(self, config: Mapping, key: str, default: int):
        value = config.get(key, default)
        if not _is_finite_number(value):
            raise LoraFormatError(f"{self.source}: config key {key!r} must be a finite number, got {value!r}")
        return value

    def _pattern(self, config: Mapping, key: str) -> dict:
        pattern = config.get(key) or {}
        if not isinstance(pattern, dict) or not all(isinstance(k, str) and _is_finite_number(v)
                                                    for k, v in pattern.items()):
            raise LoraFormatError(f"{self.source}: config key {key!r} must map module names to finite numbers")
        if len(pattern) > MAX_PATTERN_KEYS:
            raise LoraFormatError(f"{self.source}: config key {key!r} has {len(pattern)} entries, "
                                  f"more than the {MAX_PATTERN_KEYS} we match against every module")
        for pattern_key in pattern:
            self._check_pattern_key(key, pattern_key)
        return pattern

    def _check_pattern_key(self, key: str, pattern_key: str) -> None:
        shown = repr(pattern_key[:80]) + ("..." if len(pattern_key) > 80 else "")
        if _QUANTIFIED_GROUP.search(pattern_key) or len(_QUANTIFIER.findall(pattern_key)) > 1:
            raise LoraFormatError(f"{self.source}: {key} key {shown}: regexes with a quantified group or more "
                                  "than one quantifier can take exponential time; use module paths")
        try:
            _suffix_regex(pattern_key)
        except re.error as err:
            raise LoraFormatError(f"{self.source}: {key} key {shown} is not a valid regex ({err})") from None


def _is_finite_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def peft_config_fields(modules: list[LoraModule]) -> dict:
    """r, lora_alpha, rank_pattern, alpha_pattern, target_modules that reproduce these modules.

    The most common rank and alpha become the defaults, the rest go into patterns keyed by
    full module path (as PEFT itself writes them). A module without alpha gets alpha = rank,
    which is scale 1, the meaning of "no alpha" everywhere.
    """
    ranks = {m.path: m.rank for m in modules}
    alphas = {m.path: _plain(m.alpha if m.alpha is not None else m.rank) for m in modules}
    r = Counter(ranks.values()).most_common(1)[0][0]
    lora_alpha = Counter(alphas.values()).most_common(1)[0][0]
    rank_pattern = _pattern_for(ranks, r)
    alpha_pattern = _pattern_for(alphas, lora_alpha)
    return {"r": r, "lora_alpha": lora_alpha, "rank_pattern": rank_pattern,
            "alpha_pattern": alpha_pattern, "target_modules": sorted(ranks),
            "use_dora": any(m.magnitude is not None for m in modules)}


def check_dora_flag(use_dora: bool, modules: list[LoraModule], source: str) -> None:
    """peft loads magnitude vectors only when the config says use_dora, and needs them when it does."""
    has_magnitudes = any(m.magnitude is not None for m in modules)
    if use_dora and not has_magnitudes:
        raise LoraFormatError(f"{source}: the config says use_dora=true but the weights have no "
                              "lora_magnitude_vector (incomplete DoRA adapter)")
    if has_magnitudes and not use_dora:
        raise LoraFormatError(f"{source}: the weights hold DoRA lora_magnitude_vector tensors but the "
                              "config does not say use_dora=true")


def _pattern_for(values: dict[str, float], default: float) -> dict:
    """Exceptions to the default, keyed by path, checked to resolve exactly under PEFT's rule.

    PEFT reads keys as regexes matched against any dotted suffix, first key wins, so a raw
    path can also catch another module ("a.b" matches "x.a_b"; "proj" matches "blocks.0.proj").
    Fallbacks: escaped paths, then every module listed explicitly, most specific first.
    """
    exceptions = {path: v for path, v in values.items() if v != default}
    every_module = sorted(values.items(), key=lambda item: -len(item[0]))
    for pattern in (exceptions,
                    {re.escape(path): v for path, v in exceptions.items()},
                    {re.escape(path): v for path, v in every_module}):
        if all(pattern.get(get_pattern_key(pattern, path), default) == v for path, v in values.items()):
            return pattern
    raise AssertionError("every module listed explicitly, longest first, always resolves exactly")


def _plain(value: float) -> int | float:
    """3.0 -> 3 so adapter_config.json reads like the ones PEFT writes."""
    value = float(value)
    return int(value) if value.is_integer() else value
