"""A small MarianMT directory made here: the files of an opus-mt model
(`config.json`, `model.safetensors`, `source.spm`, `target.spm`,
`vocab.json`) with random weights and SentencePiece models trained on a
few English and German sentences."""

import io
import json
import os

import pytorch_process as pt

ENGLISH = ["the quick brown fox jumps over the lazy dog",
           "a small frog sat on a log", "Tom asked his teacher for advice.",
           "where is the train station?", "I like green tea and fresh bread",
           "numbers 12 345 and a café"]
GERMAN = ["der schnelle braune Fuchs springt über den faulen Hund",
          "ein kleiner Frosch saß auf einem Baumstamm",
          "Tom bat seinen Lehrer um Rat.", "wo ist der Bahnhof?",
          "ich mag grünen Tee und frisches Brot", "Zahlen 12 345 und ein Café"]
LANGUAGE_CODES = [">>deu<<", ">>fra<<"]


def _sentence_piece(lines):
    import sentencepiece

    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 20), model_writer=proto,
        vocab_size=120, character_coverage=1.0, hard_vocab_limit=False,
        minloglevel=2)
    return proto.getvalue()


def write_tokenizer(directory):
    """`source.spm`, `target.spm` and their shared `vocab.json` laid out
    as Marian's: `</s>` 0, `<unk>` 1, the pieces of both models, the
    language codes, `<pad>` last. Returns the vocabulary."""
    import sentencepiece

    models = {"source.spm": _sentence_piece(ENGLISH),
              "target.spm": _sentence_piece(GERMAN)}
    vocabulary = {"</s>": 0, "<unk>": 1}
    for name, proto in models.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(proto)
        model = sentencepiece.SentencePieceProcessor(model_proto=proto)
        for i in range(model.get_piece_size()):
            if not (model.is_control(i) or model.is_unknown(i)):
                vocabulary.setdefault(model.id_to_piece(i), len(vocabulary))
    for code in LANGUAGE_CODES:
        vocabulary[code] = len(vocabulary)
    vocabulary["<pad>"] = len(vocabulary)
    with open(os.path.join(directory, "vocab.json"), "w",
              encoding="utf-8") as f:
        json.dump(vocabulary, f, ensure_ascii=False)
    return vocabulary


def write_translator(directory, bias=False):
    """A random-weight `MarianMTModel` with the tokenizer above, saved to
    `directory` (`bias`: a random final logits bias; with one this small
    model says nearly the same whatever the source). Returns `(path, pad
    id, end id)`."""
    os.makedirs(directory, exist_ok=True)
    vocabulary = write_tokenizer(directory)
    pad, end = vocabulary["<pad>"], vocabulary["</s>"]
    pt.call(pt.random_model, "MarianMTModel", {
        "model_type": "marian", "vocab_size": len(vocabulary), "d_model": 32,
        "encoder_layers": 2, "decoder_layers": 2,
        "encoder_attention_heads": 4, "decoder_attention_heads": 4,
        "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
        "max_position_embeddings": 64, "pad_token_id": pad,
        "eos_token_id": end, "decoder_start_token_id": pad,
        "forced_eos_token_id": None, "scale_embedding": True},
        str(directory), bias=bias)
    return str(directory), pad, end
