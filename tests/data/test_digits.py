"""Coloured digits: ten real classes, RGB at the model's resolution, chosen deterministically."""

import numpy as np
import pytest

from lolzoo.data.digits import CLASSES, class_images, class_indices, colours
from lolzoo.errors import LolzooError


def test_ten_classes_cover_the_whole_bundled_set():
    sizes = [len(class_indices(c)) for c in range(CLASSES)]
    assert CLASSES == 10 and sum(sizes) == 1797 and min(sizes) > 170


def test_shape_dtype_and_range():
    images, indices = class_images(3, 5, seed=0, resolution=32)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
    assert len(set(indices.tolist())) == 5 and set(indices.tolist()) <= set(class_indices(3).tolist())
    assert images.min() < 60 or images.max() > 195  # contrast between digit and background
    assert class_images(3, 1, seed=0, resolution=24)[0].shape == (1, 24, 24, 3)


def test_same_seed_same_bytes_other_seed_other_images():
    a, ia = class_images(7, 4, seed=11)
    b, ib = class_images(7, 4, seed=11)
    assert a.tobytes() == b.tobytes() and (ia == ib).all()
    assert not np.array_equal(ia, class_images(7, 4, seed=12)[1])


def _ink(images, indices):
    """Undo the colouring: 0 where the background colour is, 1 where the digit's is."""
    out = []
    for image, index in zip(images.astype(float) / 255.0, indices):
        fg, bg = colours(int(index))
        out.append(((image - bg) * (fg - bg)).sum(axis=2) / ((fg - bg) ** 2).sum())
    return np.array(out)


def test_different_classes_look_different():
    means = [_ink(*class_images(c, 40, seed=0)).mean(axis=0) for c in range(CLASSES)]
    halves = [_ink(*class_images(c, 40, seed=1)).mean(axis=0) for c in range(CLASSES)]
    within = np.mean([np.abs(means[c] - halves[c]).mean() for c in range(CLASSES)])
    between = min(np.abs(means[a] - means[b]).mean() for a in range(CLASSES) for b in range(a + 1, CLASSES))
    assert between > 1.5 * within


def test_impossible_requests_are_clear_errors():
    with pytest.raises(LolzooError, match="class 10"):
        class_images(10, 1, seed=0)
    with pytest.raises(LolzooError, match="cannot choose"):
        class_images(0, 10_000, seed=0)
