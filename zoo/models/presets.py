"""Preset architectures: name -> (backbone class name, constructor arguments).

Parameter counts (asserted in tests/models/test_presets.py) are listed in
the README. Sources: BERT sizes from Turc et al. 2019 ("Well-Read Students
Learn Better", the 24 compact BERTs) and Devlin et al. 2018; GPT-2 sizes from
Radford et al. 2019; Transformer sizes from Vaswani et al. 2017, table 3;
`gpt_nano` is nanoGPT's CPU configuration for Tiny Shakespeare.
"""


def _bert(num_layers, hidden_dim, num_heads):
    return (
        "BertEncoder",
        {
            "vocabulary_size": 30522,  # BERT's uncased WordPiece vocabulary
            "num_layers": num_layers,
            "hidden_dim": hidden_dim,
            "num_heads": num_heads,
            "intermediate_dim": 4 * hidden_dim,
            "max_sequence_length": 512,
        },
    )


def _gpt2(num_layers, hidden_dim, num_heads):
    return (
        "GPTDecoder",
        {
            "vocabulary_size": 50257,  # GPT-2's byte-level BPE vocabulary
            "num_layers": num_layers,
            "hidden_dim": hidden_dim,
            "num_heads": num_heads,
            "intermediate_dim": 4 * hidden_dim,
            "max_sequence_length": 1024,
        },
    )


def _transformer(num_layers, hidden_dim, num_heads, intermediate_dim,
                 vocabulary_size, dropout):
    return (
        "Transformer",
        {
            "vocabulary_size": vocabulary_size,
            "num_layers": num_layers,  # encoder layers = decoder layers
            "hidden_dim": hidden_dim,
            "num_heads": num_heads,
            "intermediate_dim": intermediate_dim,
            "dropout": dropout,
            "max_sequence_length": 1024,
        },
    )


PRESETS = {
    "bert_tiny": _bert(2, 128, 2),
    "bert_mini": _bert(4, 256, 4),
    "bert_small": _bert(4, 512, 8),
    "bert_medium": _bert(8, 512, 8),
    "bert_base": _bert(12, 768, 12),
    "bert_large": _bert(24, 1024, 16),
    "gpt_nano": (
        "GPTDecoder",
        {
            "vocabulary_size": 50257,
            "num_layers": 4,
            "hidden_dim": 128,
            "num_heads": 4,
            "intermediate_dim": 512,
            "max_sequence_length": 64,
            "dropout": 0.0,
        },
    ),
    "gpt2_small": _gpt2(12, 768, 12),
    "gpt2_medium": _gpt2(24, 1024, 16),
    "gpt2_large": _gpt2(36, 1280, 20),
    "gpt2_xl": _gpt2(48, 1600, 25),
    # 3+3 layers, 256 wide: the ~9M-parameter Multi30k model of
    # bentrevett/pytorch-seq2seq, with one shared 8,000-piece vocabulary.
    "transformer_small": _transformer(3, 256, 8, 512, 8000, 0.1),
    # Vaswani et al. 2017, table 3; a shared 37,000-token BPE vocabulary.
    "transformer_base": _transformer(6, 512, 8, 2048, 37000, 0.1),
    "transformer_big": _transformer(6, 1024, 16, 4096, 37000, 0.3),
}
