import pytest

from lolzoo.lora.testing import language_like_lora, sd_like_lora


@pytest.fixture
def pipeline_lora():
    return sd_like_lora()


@pytest.fixture
def language_lora():
    return language_like_lora()
