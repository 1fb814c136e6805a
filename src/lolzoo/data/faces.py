"""Procedural faces: the default world's offline stand-in for CelebA.

Every identity is a deterministic function of (world seed, identity): its own geometry
(face size and jaw, eye spacing and size, nose, mouth width), colours (skin, hair, eyes,
clothes, background palette) and binary attributes named as in CelebA. Every image of an
identity adds jitter (pose, scale, lighting, background) and attribute noise: each
attribute of an image flips with a small probability, as CelebA's per-image annotations
disagree, so a LoRA's label is the majority over its images.

Faces are painted back to front with boolean masks on a supersampled grid in face
coordinates (x right, y down, the image spans [-1, 1]), then box-averaged down: pure numpy.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from lolzoo.errors import LolzooError

# CelebA's names where one exists; No_Beard is CelebA's inverted beard attribute.
ATTRIBUTES = ("Eyeglasses", "No_Beard", "Wearing_Hat", "Smiling", "Long_Hair", "Male", "Young")
# How often an identity has each attribute (the beard's depends on Male, as in CelebA).
_PRIORS = {"Eyeglasses": 0.3, "Wearing_Hat": 0.3, "Smiling": 0.5, "Male": 0.5, "Young": 0.7}
_BEARD_PRIOR = {True: 0.5, False: 0.05}
_LONG_HAIR_PRIOR = {True: 0.2, False: 0.75}

_SKIN_TONES = np.array([[0.98, 0.85, 0.74], [0.93, 0.76, 0.62], [0.80, 0.60, 0.45],
                        [0.62, 0.43, 0.30], [0.42, 0.28, 0.19]])
_HAIR_COLOURS = np.array([[0.08, 0.06, 0.05], [0.30, 0.18, 0.09], [0.55, 0.35, 0.17],
                          [0.85, 0.70, 0.40], [0.62, 0.22, 0.08]])
_EYE_COLOURS = np.array([[0.35, 0.20, 0.08], [0.20, 0.40, 0.70], [0.25, 0.50, 0.30], [0.10, 0.08, 0.06]])
_GREY_HAIR = np.array([0.80, 0.80, 0.80])
_LIPSTICK = np.array([0.80, 0.08, 0.20])
_TEETH = np.array([0.97, 0.97, 0.95])
_MOUTH_INSIDE = np.array([0.35, 0.05, 0.08])
_EYE_WHITE = np.array([0.97, 0.97, 0.97])


def _tag(text: str) -> int:
    return zlib.crc32(text.encode())  # stable across processes, unlike hash()


@dataclass(frozen=True)
class Identity:
    """Everything an identity keeps across its images."""

    attributes: dict  # name -> bool, before per-image noise
    face_w: float
    face_h: float
    face_y: float
    jaw: float  # 0..1: how square the lower face is, within the range of the image's Male
    eye_dx: float
    eye_y: float
    eye_r: float
    nose_len: float
    nose_w: float
    mouth_w: float
    mouth_y: float
    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    shirt: np.ndarray
    hat: np.ndarray
    frame: np.ndarray
    backgrounds: np.ndarray  # (2, 3): the palette each image's background is mixed from


class FaceWorld:
    """`identities` distinct people of a world fixed by `seed`.

    `attribute_noise` is the probability that one attribute of one image is flipped.
    """

    def __init__(self, identities: int, seed: int, attribute_noise: float = 0.07):
        if identities < 1:
            raise LolzooError(f"a face world needs at least one identity, not {identities}")
        if not 0.0 <= attribute_noise < 0.5:
            raise LolzooError(f"attribute_noise must be in [0, 0.5), not {attribute_noise}")
        self.identities = int(identities)
        self.seed = int(seed)
        self.attribute_noise = float(attribute_noise)
        self._cache: dict[int, Identity] = {}

    def _rng(self, *keys: int | str) -> np.random.Generator:
        return np.random.default_rng([self.seed, *(_tag(k) if isinstance(k, str) else int(k) for k in keys)])

    def identity(self, identity: int) -> Identity:
        if not 0 <= identity < self.identities:
            raise LolzooError(f"identity {identity} is outside this world's 0..{self.identities - 1}")
        if identity not in self._cache:
            self._cache[identity] = self._draw_identity(identity)
        return self._cache[identity]

    def identity_attributes(self, identity: int) -> dict[str, int]:
        """The identity's attributes before per-image noise (0/1, CelebA names)."""
        return _as_labels(self.identity(identity).attributes)

    def _draw_identity(self, identity: int) -> Identity:
        rng = self._rng(identity, "identity")
        has = {name: bool(rng.random() < p) for name, p in _PRIORS.items()}
        has["Beard"] = bool(rng.random() < _BEARD_PRIOR[has["Male"]])
        has["Long_Hair"] = bool(rng.random() < _LONG_HAIR_PRIOR[has["Male"]])

        def blend(palette):  # a colour between two palette neighbours, so colours are continuous
            i = rng.integers(len(palette) - 1)
            return palette[i] + rng.random() * (palette[i + 1] - palette[i])

        background = rng.random((2, 3)) * 0.7 + 0.15
        return Identity(
            attributes=has,
            face_w=rng.uniform(0.34, 0.44), face_h=rng.uniform(0.46, 0.56), face_y=rng.uniform(0.0, 0.08),
            jaw=rng.random(),
            eye_dx=rng.uniform(0.13, 0.2), eye_y=rng.uniform(-0.1, -0.03), eye_r=rng.uniform(0.055, 0.075),
            nose_len=rng.uniform(0.1, 0.18), nose_w=rng.uniform(0.035, 0.06),
            mouth_w=rng.uniform(0.12, 0.2), mouth_y=rng.uniform(0.25, 0.32),
            skin=blend(_SKIN_TONES), hair=blend(_HAIR_COLOURS), iris=blend(_EYE_COLOURS),
            shirt=rng.random(3) * 0.8 + 0.1, hat=rng.random(3) * 0.8 + 0.1,
            frame=rng.random(3) * 0.25, backgrounds=background,
        )

    def image_attributes(self, identity: int, image_index: int) -> dict[str, bool]:
        """The identity's attributes with this image's noise (internal names: Beard, not No_Beard)."""
        attributes = dict(self.identity(identity).attributes)
        flips = self._rng(identity, image_index, "noise").random(len(attributes)) < self.attribute_noise
        for (name, value), flip in zip(sorted(attributes.items()), flips):
            attributes[name] = value != bool(flip)
        return attributes

    def render(self, identity: int, image_index: int, resolution: int,
               overrides: dict[str, bool] | None = None) -> tuple[np.ndarray, dict[str, int]]:
        """Image `image_index` of `identity` (uint8, resolution × resolution × 3) and its attributes.

        `overrides` (CelebA names -> bool) forces attributes after the noise: for controlled
        samples and for tests that switch one attribute while keeping everything else.
        """
        if resolution < 8:
            raise LolzooError(f"faces need a resolution of at least 8 pixels, not {resolution}")
        person = self.identity(identity)
        attributes = self.image_attributes(identity, image_index)
        for name, value in (overrides or {}).items():
            if name not in ATTRIBUTES:
                raise LolzooError(f"unknown face attribute {name!r}; known: {', '.join(ATTRIBUTES)}")
            attributes["Beard" if name == "No_Beard" else name] = bool(value) != (name == "No_Beard")
        jitter = self._rng(identity, image_index, "jitter")
        image = _paint(person, attributes, jitter, resolution)
        return image, _as_labels(attributes)


def _as_labels(attributes: dict[str, bool]) -> dict[str, int]:
    labels = {name: int(attributes[name]) for name in ATTRIBUTES if name in attributes}
    labels["No_Beard"] = int(not attributes["Beard"])
    return {name: labels[name] for name in ATTRIBUTES}


def _supersampling(resolution: int) -> int:
    return 4 if resolution <= 64 else 2  # about 128 samples across small images: smooth edges


def _paint(person: Identity, has: dict[str, bool], jitter: np.random.Generator, resolution: int) -> np.ndarray:
    ss = _supersampling(resolution)
    n = resolution * ss
    grid = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    py, px = np.meshgrid(grid, grid, indexing="ij")

    # Pose and scale: map pixels back into the face's own frame.
    shift = jitter.uniform(-0.08, 0.08, 2)
    angle = np.deg2rad(jitter.uniform(-10.0, 10.0))
    scale = jitter.uniform(0.9, 1.1)
    cos, sin = np.cos(angle), np.sin(angle)
    dx, dy = (px - shift[0]) / scale, (py - shift[1]) / scale
    x, y = cos * dx + sin * dy, -sin * dx + cos * dy

    # Background: a vertical gradient between the identity's two colours, mixed and tinted per image.
    mix = jitter.uniform(0.0, 1.0)
    top = person.backgrounds[0] * (1 - mix) + person.backgrounds[1] * mix + jitter.normal(0, 0.05, 3)
    bottom = person.backgrounds[1] * (1 - mix) + person.backgrounds[0] * mix + jitter.normal(0, 0.05, 3)
    t = ((py + 1) / 2)[..., None]
    img = top * (1 - t) + bottom * t

    def paint(mask, colour):
        img[mask] = colour

    hair = _GREY_HAIR * 0.75 + person.hair * 0.25 if not has["Young"] else person.hair
    hair = _contrasting(hair, (top + bottom) / 2)  # long hair and hats must stand out from the background
    hat = _contrasting(person.hat, (top + bottom) / 2)
    fx, fy = x / person.face_w, (y - person.face_y) / person.face_h
    face_top = person.face_y - person.face_h

    # Back to front: long hair, shoulders, neck, ears, face.
    if has["Long_Hair"]:
        paint((np.abs(x) < person.face_w + 0.14) & (y > face_top + 0.05) & (y < 0.8)
              | _ellipse(x, y - person.face_y + 0.05, person.face_w + 0.14, person.face_h + 0.08), hair)
    paint(_ellipse(x, y - 1.15, 0.85, 0.45), person.shirt)
    paint((np.abs(x) < person.face_w * 0.45) & (y > person.face_y) & (y < 0.8), person.skin * 0.85)
    for side in (-1, 1):
        paint(_ellipse(x - side * person.face_w, y - person.face_y + 0.03, 0.07, 0.11), person.skin * 0.9)
    # The lower face is a superellipse: exponent 2 is round (a narrow chin), larger is a square jaw.
    power = 3.0 + 0.8 * person.jaw if has["Male"] else 1.8 + 0.3 * person.jaw
    face = np.where(fy > 0, np.abs(fx) ** power + np.abs(fy) ** power, fx**2 + fy**2) < 1
    paint(face, person.skin)

    # Short hair is a cap on the upper head; long hair adds the same cap over the back hair.
    cap = _ellipse(x, y - person.face_y, person.face_w + 0.05, person.face_h + 0.06) & (y < face_top + 0.3)
    cap &= ~((np.abs(x) < person.face_w * 0.7) & (y > face_top + 0.2))  # a hairline above the forehead
    paint(cap, hair)

    if has["Beard"]:
        beard = face & (y > person.face_y + person.face_h * 0.22)
        beard &= ~_ellipse(x, y - person.mouth_y, person.mouth_w * 0.9, 0.05)
        paint(beard, _contrasting(hair * 0.9, person.skin))

    # Eyebrows: thick and low for Male, thin and arched otherwise.
    brow_h = 0.035 if has["Male"] else 0.018
    for side in (-1, 1):
        ex = side * person.eye_dx
        arch = 0.0 if has["Male"] else 0.9 * (x - ex) ** 2
        brow_y = person.eye_y - person.eye_r - 0.05 + arch
        paint((np.abs(x - ex) < person.eye_r * 1.5) & (np.abs(y - brow_y) < brow_h), hair * 0.8)
        paint(_ellipse(x - ex, y - person.eye_y, person.eye_r * 1.35, person.eye_r), _EYE_WHITE)
        paint(_ellipse(x - ex, y - person.eye_y, person.eye_r * 0.75, person.eye_r * 0.75), person.iris)
        paint(_ellipse(x - ex, y - person.eye_y, person.eye_r * 0.35, person.eye_r * 0.35), 0.02)

    nose = (np.abs(x) < person.nose_w * (y - person.eye_y) / person.nose_len) & (y > person.eye_y + 0.03)
    paint(nose & (y < person.eye_y + 0.03 + person.nose_len), person.skin * 0.78)

    lips = person.skin * 0.6 + np.array([0.15, 0.0, 0.0]) if has["Male"] else _LIPSTICK
    if has["Smiling"]:  # an open grin: a lower half-ellipse with teeth
        grin = _ellipse(x, y - person.mouth_y + 0.02, person.mouth_w * 1.2, 0.12) & (y > person.mouth_y - 0.02)
        paint(grin, lips)
        paint(_ellipse(x, y - person.mouth_y + 0.02, person.mouth_w, 0.095) & (y > person.mouth_y - 0.02),
              _MOUTH_INSIDE)
        paint(_ellipse(x, y - person.mouth_y + 0.02, person.mouth_w * 0.85, 0.045) & (y > person.mouth_y - 0.02),
              _TEETH)
    else:
        paint(_ellipse(x, y - person.mouth_y, person.mouth_w * 0.8, 0.028 if has["Male"] else 0.04), lips)

    if has["Eyeglasses"]:  # dark frames and tinted lenses, wide enough to show at 32 pixels
        rim = person.eye_r * 2.1
        for side in (-1, 1):
            d = np.hypot(x - side * person.eye_dx, (y - person.eye_y) * 1.15)
            img[d < rim - 0.045] = img[d < rim - 0.045] * 0.55 + np.array([0.3, 0.45, 0.55]) * 0.45
            paint((d >= rim - 0.045) & (d < rim + 0.02), person.frame)
        bridge = (np.abs(x) < person.eye_dx - rim + 0.02) & (np.abs(y - person.eye_y + 0.02) < 0.025)
        paint(bridge, person.frame)

    if has["Wearing_Hat"]:  # crown and a wide brim over the top of the head
        crown_bottom = face_top + 0.2
        paint((np.abs(x) < person.face_w + 0.02) & (y > face_top - 0.3) & (y < crown_bottom), hat)
        paint((np.abs(x) < person.face_w + 0.22) & (np.abs(y - crown_bottom) < 0.055), hat * 0.7)

    # Lighting: contrast about mid-grey, then brightness.
    img = (img - 0.5) * jitter.uniform(0.8, 1.15) + 0.5 + jitter.uniform(-0.12, 0.12)
    img = img.reshape(resolution, ss, resolution, ss, 3).mean(axis=(1, 3))
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _contrasting(colour: np.ndarray, against: np.ndarray, gap: float = 0.5) -> np.ndarray:
    """`colour`, moved towards black or white (whichever is farther from `against`) until their
    summed RGB distance is at least `gap`: so an attribute never vanishes into what is behind it."""
    if np.abs(colour - against).sum() >= gap:
        return colour
    target = np.zeros(3) if against.mean() > 0.5 else np.ones(3)
    for t in np.linspace(0.1, 1.0, 10):
        moved = colour * (1 - t) + target * t
        if np.abs(moved - against).sum() >= gap:
            return moved
    return target


def _ellipse(x: np.ndarray, y: np.ndarray, a: float, b: float) -> np.ndarray:
    return (x / a) ** 2 + (y / b) ** 2 < 1
