"""Procedural faces: deterministic, distinct identities, visible attributes, honest noise."""

import time

import numpy as np
import pytest

from lolzoo.data.faces import ATTRIBUTES, FaceWorld
from lolzoo.errors import LolzooError

RES = 32


def test_same_inputs_give_identical_bytes():
    a = FaceWorld(2000, seed=3).render(17, 4, RES)
    b = FaceWorld(2000, seed=3).render(17, 4, RES)
    assert a[0].tobytes() == b[0].tobytes() and a[1] == b[1]
    assert a[0].shape == (RES, RES, 3) and a[0].dtype == np.uint8


def test_seed_and_identity_change_the_face():
    base = FaceWorld(2000, seed=3).render(17, 4, RES)[0].astype(float)
    other_seed = FaceWorld(2000, seed=4).render(17, 4, RES)[0].astype(float)
    assert np.abs(base - other_seed).mean() > 10


def test_identities_differ_more_than_images_of_one_identity():
    world = FaceWorld(2000, seed=0)
    # Mean over many images washes out the per-image jitter and leaves the identity.
    means = [np.mean([world.render(i, k, RES)[0].astype(float) for k in range(8)], axis=0) for i in range(6)]
    between = [np.abs(means[i] - means[j]).mean() for i in range(6) for j in range(i + 1, 6)]
    assert min(between) > 8


def test_at_least_a_thousand_identities_with_varied_geometry_and_attributes():
    world = FaceWorld(1000, seed=0)
    people = [world.identity(i) for i in range(1000)]
    assert len({(p.face_w, p.eye_dx, p.mouth_w) for p in people}) == 1000
    for name in ATTRIBUTES:
        share = np.mean([world.identity_attributes(i)[name] for i in range(1000)])
        assert 0.1 < share < 0.9, name
    with pytest.raises(LolzooError, match=r"identity 1000 is outside this world's 0\.\.999"):
        world.identity(1000)


def _mask_difference(world, name, identity):
    """Mean absolute pixel difference (on 0..255) between the attribute on and off, same image."""
    on = world.render(identity, 0, RES, overrides={name: True})[0].astype(float)
    off = world.render(identity, 0, RES, overrides={name: False})[0].astype(float)
    diff = np.abs(on - off).sum(axis=2)
    changed = diff > 30
    return changed.sum(), diff[changed].mean() if changed.any() else 0.0


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_every_attribute_clearly_changes_the_pixels_at_32(name):
    world = FaceWorld(2000, seed=0)
    for identity in range(10):
        pixels, strength = _mask_difference(world, name, identity)
        # At least a few pixels change clearly (a region of the face, not anti-aliasing dust).
        assert pixels >= 6, (name, identity, pixels)
        assert strength > 50, (name, identity, strength)


def test_attribute_noise_rate_matches_the_configured_one():
    world = FaceWorld(300, seed=1, attribute_noise=0.08)
    flips = []
    for identity in range(300):
        truth = world.identity_attributes(identity)
        for k in range(21):
            noisy = world.image_attributes(identity, k)
            labels = {**noisy, "No_Beard": not noisy["Beard"]}
            flips.extend(int(labels[n]) != truth[n] for n in ATTRIBUTES)
    assert abs(np.mean(flips) - 0.08) < 0.01


def test_no_noise_means_every_image_has_the_identity_attributes():
    world = FaceWorld(50, seed=1, attribute_noise=0.0)
    for identity in range(50):
        assert world.render(identity, 3, 16)[1] == world.identity_attributes(identity)


def test_rendering_a_lora_worth_of_images_is_fast():
    world = FaceWorld(2000, seed=0)
    world.render(0, 0, RES)
    start = time.perf_counter()
    for k in range(21):
        world.render(7, k, RES)
    assert time.perf_counter() - start < 1.0


def test_bad_inputs_are_one_clear_error():
    with pytest.raises(LolzooError, match="unknown face attribute"):
        FaceWorld(10, 0).render(0, 0, RES, overrides={"Bald": True})
    with pytest.raises(LolzooError, match=r"attribute_noise must be in \[0, 0\.5\), not 0\.7"):
        FaceWorld(10, 0, attribute_noise=0.7)
