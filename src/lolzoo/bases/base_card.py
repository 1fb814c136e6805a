"""The base models' card: does the tiny pipeline draw what its prompts ask, and does the tiny
CLIP tell matching image/prompt pairs from mismatched ones?

- Prompted-digit accuracy: the pipeline draws every digit class from "a photo of the digit
  <name>"; a classifier trained on the real digits (logistic regression on grey-scaled,
  polarity- and contrast-normalised pixels, so colours do not matter) reads the class back.
  Chance is 10%.
- Face attribute accuracy: the pipeline draws faces from captions of random attribute sets; a
  classifier per attribute, trained on generated (procedural) faces of a held-out image range,
  reads them back. Chance per attribute is the majority rate of the prompted labels.
- CLIP margin: mean clip_score of matching image/caption pairs minus that of mismatched pairs
  (each image with the caption of another image of its domain that says something else), on
  real stand-in images and on the pipeline's samples.
Each classifier's accuracy on held-out real images is recorded too: the ceiling for its number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lolzoo.bases.pretrain_data import digit_caption, digit_set, face_caption, face_set, to_model_range
from lolzoo.data.digits import CLASSES
from lolzoo.data.faces import ATTRIBUTES

GUIDANCE_SCALE = 5.0  # within the 4-7 range where the tiny base's digits were measured best
SAMPLING_STEPS = 20
# the classifiers' faces: image indices far from the pretraining set's (which start at 0)
CLASSIFIER_FACE_IMAGES_FROM = 50


# --- classifiers -----------------------------------------------------------------------------

def digit_features(images_uint8: np.ndarray) -> np.ndarray:
    """Grey, ink made positive (the border is background), pooled to half size, zero mean and unit std."""
    grey = images_uint8.astype(np.float32).mean(axis=-1) / 255.0
    border = np.concatenate([grey[:, :2].reshape(len(grey), -1), grey[:, -2:].reshape(len(grey), -1),
                             grey[:, :, :2].reshape(len(grey), -1), grey[:, :, -2:].reshape(len(grey), -1)], axis=1)
    flip = border.mean(axis=1) > grey.reshape(len(grey), -1).mean(axis=1)  # light background: dark ink
    grey = np.where(flip[:, None, None], 1.0 - grey, grey)
    n, h, w = grey.shape
    # 2×2 average pooling: a 16×16 digit is plenty to read, and small shifts of samples matter less
    flat = grey.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4)).reshape(n, -1)
    return (flat - flat.mean(axis=1, keepdims=True)) / (flat.std(axis=1, keepdims=True) + 1e-6)


def face_features(images_uint8: np.ndarray) -> np.ndarray:
    return images_uint8.reshape(len(images_uint8), -1).astype(np.float32) / 255.0


def _logistic_regression(features: np.ndarray, labels: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, C=0.1).fit(features, labels)


def train_digit_classifier(resolution: int = 32, seed: int = 0) -> tuple[object, float]:
    """Fit on 80% of the real digits; returns the classifier and its accuracy on the other 20%."""
    images, labels = digit_set(resolution)
    features = digit_features(images)
    order = np.random.default_rng(seed).permutation(len(labels))
    split = int(0.8 * len(labels))
    classifier = _logistic_regression(features[order[:split]], labels[order[:split]])
    accuracy = float((classifier.predict(features[order[split:]]) == labels[order[split:]]).mean())
    return classifier, accuracy


def train_face_classifiers(count: int, resolution: int = 32) -> tuple[dict[str, object], dict[str, float]]:
    """One classifier per attribute, fit on 80% of `count` generated faces, scored on the rest."""
    images, attributes = face_set(count, resolution, first_image=CLASSIFIER_FACE_IMAGES_FROM)
    features = face_features(images)
    split = int(0.8 * count)
    classifiers, accuracies = {}, {}
    for name in ATTRIBUTES:
        labels = np.array([a[name] for a in attributes])
        classifiers[name] = _logistic_regression(features[:split], labels[:split])
        accuracies[name] = float((classifiers[name].predict(features[split:]) == labels[split:]).mean())
    return classifiers, accuracies


# --- sampling --------------------------------------------------------------------------------

@torch.no_grad()
def sample(pipeline, prompts: list[str], seed: int, guidance_scale: float = GUIDANCE_SCALE,
           steps: int = SAMPLING_STEPS, batch_size: int = 50) -> np.ndarray:
    """(N, H, W, 3) uint8 samples, one per prompt; the k-th batch uses generator seed + k."""
    size = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
    pipeline.set_progress_bar_config(disable=True)
    chunks = []
    for k, start in enumerate(range(0, len(prompts), batch_size)):
        out = pipeline(prompts[start:start + batch_size], height=size, width=size, num_inference_steps=steps,
                       guidance_scale=guidance_scale, generator=torch.Generator().manual_seed(seed + k),
                       output_type="np")
        chunks.append((np.clip(out.images, 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.concatenate(chunks)


def random_face_attributes(count: int, seed: int) -> list[dict[str, int]]:
    """Each attribute a fair coin per prompt, so every attribute is asked for about half the time."""
    rng = np.random.default_rng([seed, 7])
    return [{name: int(v) for name, v in zip(ATTRIBUTES, rng.integers(0, 2, len(ATTRIBUTES)))}
            for _ in range(count)]


# --- CLIP margin -----------------------------------------------------------------------------

def mismatched_captions(captions: list[str]) -> list[str | None]:
    """For each caption, the next caption in the list (cyclically) that differs from it."""
    out: list[str | None] = []
    for i, caption in enumerate(captions):
        others = [captions[(i + k) % len(captions)] for k in range(1, len(captions))]
        out.append(next((c for c in others if c != caption), None))
    return out


def clip_margin(clip, images_uint8: np.ndarray, captions: list[str]) -> dict[str, float]:
    """Mean clip_score of matching pairs, of mismatched pairs, and their difference."""
    pixels = (to_model_range(images_uint8) + 1) / 2
    wrong = mismatched_captions(captions)
    keep = [i for i, c in enumerate(wrong) if c is not None]
    matching = clip.clip_score(pixels, captions).mean().item()
    mismatched = clip.clip_score(pixels[keep], [wrong[i] for i in keep]).mean().item()
    return {"matching": matching, "mismatched": mismatched, "margin": matching - mismatched}


# --- grids and the card ----------------------------------------------------------------------

def image_grid(images_uint8: np.ndarray, columns: int, upscale: int = 2) -> Image.Image:
    rows = -(-len(images_uint8) // columns)
    h, w = images_uint8.shape[1:3]
    canvas = np.full((rows * (h + 2), columns * (w + 2), 3), 255, dtype=np.uint8)
    for k, image in enumerate(images_uint8):
        r, c = divmod(k, columns)
        canvas[r * (h + 2) + 1:r * (h + 2) + 1 + h, c * (w + 2) + 1:c * (w + 2) + 1 + w] = image
    grid = Image.fromarray(canvas)
    return grid.resize((grid.width * upscale, grid.height * upscale), Image.NEAREST)


def make_card(pipeline, clip, out: Path, samples_per_digit: int = 10, face_samples: int = 64,
              classifier_faces: int = 2000, seed: int = 0, guidance_scale: float = GUIDANCE_SCALE,
              steps: int = SAMPLING_STEPS) -> dict:
    """Sample, classify and score; writes digits_grid.png and faces_grid.png into `out`, returns the card."""
    out = Path(out)
    resolution = pipeline.unet.config.sample_size * pipeline.vae_scale_factor

    digit_classifier, digit_ceiling = train_digit_classifier(resolution, seed)
    digit_classes = np.repeat(np.arange(CLASSES), samples_per_digit)
    digit_prompts = [digit_caption(int(c)) for c in digit_classes]
    digit_samples = sample(pipeline, digit_prompts, seed, guidance_scale, steps)
    predicted = digit_classifier.predict(digit_features(digit_samples))
    per_class = [float((predicted[digit_classes == c] == c).mean()) for c in range(CLASSES)]

    face_classifiers, face_ceilings = train_face_classifiers(classifier_faces, resolution)
    prompted = random_face_attributes(face_samples, seed)
    face_prompts = [face_caption(a) for a in prompted]
    face_samples_uint8 = sample(pipeline, face_prompts, seed + 1000, guidance_scale, steps)
    features = face_features(face_samples_uint8)
    face_accuracy, face_chance = {}, {}
    for name in ATTRIBUTES:
        asked = np.array([a[name] for a in prompted])
        face_accuracy[name] = float((face_classifiers[name].predict(features) == asked).mean())
        face_chance[name] = float(max(asked.mean(), 1 - asked.mean()))

    real_digits, real_classes = digit_set(resolution)
    pick = np.random.default_rng([seed, 3]).choice(len(real_classes), size=min(500, len(real_classes)), replace=False)
    real_faces, real_attributes = face_set(500, resolution, first_image=CLASSIFIER_FACE_IMAGES_FROM + 10)
    real_images = np.concatenate([real_digits[pick], real_faces])
    real_captions = [digit_caption(int(c)) for c in real_classes[pick]] + [face_caption(a) for a in real_attributes]
    # mismatches stay within a domain: a digit image against another digit's caption
    real_margin = _margin_by_domain(clip, real_images, real_captions, len(pick))
    sample_margin = _margin_by_domain(clip, np.concatenate([digit_samples, face_samples_uint8]),
                                      digit_prompts + face_prompts, len(digit_prompts))

    out.mkdir(parents=True, exist_ok=True)
    order = np.arange(len(digit_samples)).reshape(CLASSES, samples_per_digit)  # one row per class
    image_grid(digit_samples[order.ravel()], samples_per_digit).save(out / "digits_grid.png")
    image_grid(face_samples_uint8, 8).save(out / "faces_grid.png")
    (out / "faces_prompts.txt").write_text("\n".join(face_prompts) + "\n")

    return {
        "sampling": {"guidance_scale": guidance_scale, "steps": steps, "seed": seed, "scheduler": "DDIM"},
        "prompted_digit_accuracy": float(np.mean(per_class)),
        "prompted_digit_accuracy_per_class": dict(zip(map(str, range(CLASSES)), per_class)),
        "prompted_digit_chance": 1.0 / CLASSES,
        "digit_samples": int(len(digit_samples)),
        "digit_classifier_held_out_accuracy": digit_ceiling,
        "face_attribute_accuracy": float(np.mean(list(face_accuracy.values()))),
        "face_attribute_accuracy_per_attribute": face_accuracy,
        "face_attribute_chance": float(np.mean(list(face_chance.values()))),
        "face_attribute_chance_per_attribute": face_chance,
        "face_samples": int(face_samples),
        "face_classifier_held_out_accuracy": face_ceilings,
        "clip_margin_real": real_margin,
        "clip_margin_samples": sample_margin,
        "clip_margin": real_margin["all"]["margin"],
        "grids": ["digits_grid.png", "faces_grid.png"],
    }


def _margin_by_domain(clip, images: np.ndarray, captions: list[str], digits: int) -> dict[str, dict[str, float]]:
    """Margins of the digit part, the face part, and both (the mean of matching minus mismatched)."""
    digit_part = clip_margin(clip, images[:digits], captions[:digits])
    face_part = clip_margin(clip, images[digits:], captions[digits:])
    n_digits, n_faces = digits, len(captions) - digits
    both = {key: (digit_part[key] * n_digits + face_part[key] * n_faces) / (n_digits + n_faces)
            for key in digit_part}
    return {"digits": digit_part, "faces": face_part, "all": both}
