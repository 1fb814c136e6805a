"""Our CLIP BPE tokenizer: a folder that transformers' CLIPTokenizer loads and really uses."""

import json

import pytest

from lolzoo.bases.tokenizer import BOS, EOS, MAX_LENGTH, load_tokenizer, train_merges, write_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return load_tokenizer(write_tokenizer(tmp_path_factory.mktemp("tok") / "tokenizer"))


def test_caption_words_are_single_known_tokens(tokenizer):
    vocab = tokenizer.get_vocab()
    ids = tokenizer("A photo of the digit seven").input_ids
    expected = [vocab[BOS]] + [vocab[w + "</w>"] for w in ("a", "photo", "of", "the", "digit", "seven")] + [vocab[EOS]]
    assert ids == expected


def test_instance_prompt_splits_like_clip(tokenizer):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("a photo of sks_photo").input_ids)
    assert tokens == [BOS, "a</w>", "photo</w>", "of</w>", "sks</w>", "_</w>", "photo</w>", EOS]


def test_unseen_words_fall_back_to_bytes_not_unknown(tokenizer):
    ids = tokenizer("zebra").input_ids[1:-1]
    assert tokenizer.decode(ids).strip() == "zebra"
    assert tokenizer.eos_token_id not in ids


def test_padding_to_clip_context_with_end_of_text(tokenizer):
    ids = tokenizer("a person", padding="max_length", max_length=MAX_LENGTH, truncation=True).input_ids
    assert len(ids) == MAX_LENGTH == tokenizer.model_max_length
    assert ids[3:] == [tokenizer.eos_token_id] * (MAX_LENGTH - 3)


def test_end_of_text_has_the_largest_id(tokenizer):
    # open_clip-style pooling and CLIP's own convention rely on it
    assert tokenizer.eos_token_id == max(tokenizer.get_vocab().values()) == len(tokenizer) - 1


def test_round_trip_through_save_pretrained(tokenizer, tmp_path):
    tokenizer.save_pretrained(tmp_path)
    again = load_tokenizer(tmp_path)
    caption = "a photo of a face with glasses and a beard"
    assert again(caption).input_ids == tokenizer(caption).input_ids
    assert tokenizer.decode(tokenizer(caption).input_ids, skip_special_tokens=True).strip() == caption


def test_files_are_deterministic(tmp_path):
    a, b = write_tokenizer(tmp_path / "a"), write_tokenizer(tmp_path / "b")
    for name in ("vocab.json", "merges.txt"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert json.loads((a / "vocab.json").read_text())["seven</w>"] > 511


def test_merges_are_most_frequent_pair_first():
    assert train_merges(["ab ab ab cd"], 1) == [("a", "b</w>")]
