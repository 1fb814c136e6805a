"""A CLIP byte-level BPE tokenizer of our own, trained offline on the stand-in domain's captions.

The folder it writes (vocab.json, merges.txt, tokenizer_config.json) has the layout of
`openai/clip-vit-large-patch14`'s tokenizer, so `transformers.CLIPTokenizer.from_pretrained(folder)`
loads it; the diffusion pipeline's text encoder and the tiny open_clip both use it.

Vocabulary order follows CLIP: 256 byte symbols, the same 256 with the end-of-word mark `</w>`,
then one token per merge, then <|startoftext|> and <|endoftext|>. <|endoftext|> has the largest
id, as in CLIP, so pooling the text tower at the end-of-text token finds it by id.
"""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
END_OF_WORD = "</w>"
MAX_LENGTH = 77  # CLIP's context length: SD 1.x conditions on 77 token embeddings

# The captions of the default world's stand-in data: digits (Imagenette stand-in), procedural
# faces (CelebA stand-in) and the DreamBooth instance and class prompts of the recipes.
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
FACE_WORDS = ("face", "faces", "man", "woman", "with", "without", "glasses", "beard", "hat",
              "smile", "smiling", "long", "short", "hair", "young", "old", "blond", "dark",
              "bald", "eyeglasses", "mustache", "wearing", "and", "no", "male", "female")
CAPTION_WORDS = ("a", "an", "the", "photo", "picture", "image", "drawing", "of", "digit",
                 "number", "handwritten", "sks", "skd", "celebrity", "person", "thing",
                 "style", "in", "on", "background", "colored", "coloured", "red", "green",
                 "blue", "yellow", "white", "black", "close", "up", "portrait")
DEFAULT_CORPUS = DIGIT_NAMES + FACE_WORDS + CAPTION_WORDS + (
    "a photo of sks_photo", "a photo of a celebrity", "a photo of a person", "a photo of a thing",
    "a photo of skd person", "a photo of the digit", "a photo of a face with glasses")
DEFAULT_NUM_MERGES = 400  # enough for every corpus word to become one token; the vocab stays ~1.1k

# CLIP's pre-tokenizer on lower-cased ASCII text: letter runs, single digits, punctuation runs.
WORD_PATTERN = re.compile(r"[a-z]+|[0-9]|[^\sa-z0-9]+")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's map from bytes to printable characters (so every byte has a visible symbol)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars)))


def split_words(text: str) -> list[str]:
    return WORD_PATTERN.findall(text.lower())


def word_symbols(word: str, byte_chars: dict[int, str]) -> tuple[str, ...]:
    symbols = [byte_chars[b] for b in word.encode("utf-8")]
    symbols[-1] += END_OF_WORD
    return tuple(symbols)


def train_merges(corpus: tuple[str, ...] | list[str], num_merges: int) -> list[tuple[str, str]]:
    """Classic BPE: repeatedly merge the most frequent adjacent pair (ties: first in sorted order)."""
    byte_chars = bytes_to_unicode()
    counts = collections.Counter(w for text in corpus for w in split_words(text))
    words = {word_symbols(w, byte_chars): n for w, n in counts.items()}
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs: collections.Counter = collections.Counter()
        for symbols, n in words.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += n
        if not pairs:
            break  # every word is a single token
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        words = {merge_pair(symbols, best): n for symbols, n in words.items()}
    return merges


def merge_pair(symbols: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    base = list(bytes_to_unicode().values())
    tokens = base + [c + END_OF_WORD for c in base]
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:  # a merge may recreate a token (never with our corpus, but cheap to guard)
            tokens.append(a + b)
            seen.add(a + b)
    tokens += [BOS, EOS]
    return {token: i for i, token in enumerate(tokens)}


def write_tokenizer(folder: str | Path, corpus=DEFAULT_CORPUS, num_merges: int = DEFAULT_NUM_MERGES) -> Path:
    """Train merges on `corpus` and write a folder loadable by CLIPTokenizer.from_pretrained."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    merges = train_merges(tuple(corpus), num_merges)
    vocab = build_vocab(merges)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
    # pad with <|endoftext|> as SD 1.x's tokenizer does; unknown text falls back to <|endoftext|> too
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_LENGTH,
              "bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS,
              "do_lower_case": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return folder


def load_tokenizer(folder: str | Path):
    """Load from the folder: in transformers 5, CLIPTokenizer(vocab_file=..., merges_file=...)
    silently ignores both files and tokenises everything to unknown."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(folder), local_files_only=True)
