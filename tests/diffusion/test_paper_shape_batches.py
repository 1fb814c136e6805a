"""At SD 1.4's 512 px the shard's VAE encodings and the evaluation's pipeline calls are cut into
smaller batches (the paper-shapes run, issue 20); at the small worlds' sizes they are as before."""

from types import SimpleNamespace

from lolzoo.diffusion.evaluate import IMAGES_PER_BATCH, images_per_call
from lolzoo.diffusion.finetune import ENCODE_CHUNK, encode_chunk


def pipeline_of(latent_side: int, scale: int = 8):
    return SimpleNamespace(unet=SimpleNamespace(config=SimpleNamespace(sample_size=latent_side)), vae_scale_factor=scale)


def test_small_images_keep_their_batches():
    assert encode_chunk(32 * 32) == encode_chunk(128 * 128) == ENCODE_CHUNK == 64
    assert images_per_call(pipeline_of(4)) == images_per_call(pipeline_of(16)) == IMAGES_PER_BATCH == 64


def test_512_px_images_go_a_few_at_a_time():
    assert encode_chunk(512 * 512) == 4  # 21 CelebA images: 6 VAE forwards, not one of 21
    assert images_per_call(pipeline_of(64)) == 16  # SD 1.4: 33 prompts in 3 calls, not one decode of 33
    assert encode_chunk(4096 * 4096) == images_per_call(pipeline_of(512)) == 1  # never zero
