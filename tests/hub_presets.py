"""Tiny keras-hub presets written to disk, as `save_to_preset` writes a
downloaded one: what `--init_from` and `zoo.convert` read, with no network."""

import keras_hub

from zoo.data import tokenizers

TEXT = ("the cat sat on the mat . a dog ran in the park . "
        "new york is a city . the park is big . ") * 40


def bert_preset(directory):
    """A 1-layer keras-hub BERT and its WordPiece tokenizer in `directory`."""
    tokenizer = tokenizers.train_wordpiece([TEXT], vocabulary_size=120)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
        num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=64)
    backbone.save_to_preset(str(directory))
    tokenizer.save_to_preset(str(directory))
    return backbone, tokenizer


def gpt2_preset(directory):
    """A 1-layer keras-hub GPT-2 and its byte-pair tokenizer in `directory`."""
    tokenizer = tokenizers.train_byte_pair([TEXT], vocabulary_size=300)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=tokenizer.vocabulary_size(), num_layers=1,
        num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=128)
    backbone.save_to_preset(str(directory))
    tokenizer.save_to_preset(str(directory))
    return backbone, tokenizer
