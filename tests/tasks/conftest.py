"""Tiny backbones and batches shared by the task tests."""

import pytest

from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer

VOCAB = 37
SIZES = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32)


@pytest.fixture
def bert():
    return BertEncoder(vocabulary_size=VOCAB, max_sequence_length=16,
                       dropout=0.0, **SIZES)


@pytest.fixture
def gpt():
    return GPTDecoder(vocabulary_size=VOCAB, max_sequence_length=32,
                      dropout=0.0, **SIZES)


@pytest.fixture
def transformer():
    return Transformer(vocabulary_size=VOCAB, max_sequence_length=32,
                       dropout=0.0, **SIZES)
