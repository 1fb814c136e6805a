"""The captioned pretraining set: digits and faces, captions in the tokenizer's own words."""

import torch

from lolzoo.bases.pretrain_data import captioned_images, digit_caption, face_caption
from lolzoo.bases.tiny_sd import build_tiny_sd


def test_captions_name_the_digit_and_every_face_attribute():
    assert digit_caption(7) == "a photo of the digit seven"
    everything = dict(Eyeglasses=1, No_Beard=0, Wearing_Hat=1, Smiling=1, Long_Hair=1, Male=1, Young=1)
    assert face_caption(everything) == "a photo of a smiling young man with glasses and a beard and a hat and long hair"
    nothing = dict(Eyeglasses=0, No_Beard=1, Wearing_Hat=0, Smiling=0, Long_Hair=0, Male=0, Young=0)
    assert face_caption(nothing) == "a photo of a old woman"


def test_mixed_set_has_both_domains_in_model_range():
    data = captioned_images(faces=6, digits=4)
    assert data.images.shape == (10, 3, 32, 32) and data.images.dtype == torch.float32
    assert -1.0 <= data.images.min() and data.images.max() <= 1.0
    assert data.domains == ["digit"] * 4 + ["face"] * 6
    assert data.captions[:4] == [digit_caption(c) for c in range(4)]  # the first digits are 0, 1, 2, 3


def test_every_caption_word_is_one_token():
    tokenizer = build_tiny_sd(0).tokenizer
    data = captioned_images(faces=30, digits=10)
    for caption in set(data.captions):
        ids = tokenizer(caption).input_ids
        assert len(ids) == len(caption.split()) + 2, caption  # <|startoftext|> ... <|endoftext|>
