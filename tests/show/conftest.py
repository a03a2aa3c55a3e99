"""Tiny tasks with tokenizers trained on a few lines, for zoo.show's tests."""

import pytest

from zoo.data import tokenizers
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM

TEXTS = ["the cat sat on the mat", "a dog ran in the park",
         "zwei katzen und drei hunde", "two cats and three dogs"] * 10
SIZES = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
             max_sequence_length=48, dropout=0.0)


@pytest.fixture(scope="session")
def bert_task():
    tokenizer = tokenizers.train_wordpiece(TEXTS, vocabulary_size=60)
    backbone = BertEncoder(tokenizer.vocabulary_size(), **SIZES)
    return MaskedLM(backbone, tokenizer=tokenizer)


@pytest.fixture(scope="session")
def gpt_task():
    tokenizer = tokenizers.train_characters(TEXTS)
    backbone = GPTDecoder(tokenizer.vocabulary_size(), **SIZES)
    return CausalLM(backbone, tokenizer=tokenizer, jit_compile_generate=False)


@pytest.fixture(scope="session")
def transformer_task():
    tokenizer = tokenizers.train_sentence_piece(TEXTS, vocabulary_size=140)
    backbone = Transformer(tokenizer.vocabulary_size(), **SIZES)
    return Seq2SeqLM(backbone, tokenizer=tokenizer,
                     jit_compile_generate=False)
