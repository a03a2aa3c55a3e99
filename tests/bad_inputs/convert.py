"""Bad-input cases: convert (see tests/bad_inputs/table.py).

`zoo.convert` reading Hugging Face directories and the original BERT and
GPT-2 releases. Each case writes a tiny directory with
`zoo.convert.to_huggingface` (or by hand) in the test's tmp dir, damages
one file, and reads it back. Nothing touches the network.
"""

import json
import os

import numpy as np

from tests.bad_inputs.table import Case


def _written(tmp_path, kind):
    """A valid Hugging Face directory of a tiny zoo model of `kind`
    ("bert", "gpt2" or "classifier"), written by zoo.convert itself."""
    import zoo.convert
    from zoo.data import tokenizers
    from zoo.models import BertEncoder
    from zoo.models import GPTDecoder
    from zoo.tasks import CausalLM
    from zoo.tasks import MaskedLM
    from zoo.tasks import SequenceClassifier

    text = ["the cat sat on the mat . a dog ran in the park ."] * 10
    if kind == "gpt2":
        tokenizer = tokenizers.train_byte_pair(text, vocabulary_size=280)
        model = CausalLM(GPTDecoder.from_preset(
            "gpt_nano", vocabulary_size=280, num_layers=1,
            max_sequence_length=16), tokenizer=tokenizer)
    else:
        backbone = BertEncoder.from_preset(
            "bert_tiny", vocabulary_size=64, num_layers=1,
            max_sequence_length=16)
        tokenizer = tokenizers.train_wordpiece(text, vocabulary_size=60)
        model = (MaskedLM(backbone, tokenizer=tokenizer) if kind == "bert"
                 else SequenceClassifier(backbone, 3, tokenizer=tokenizer))
    return str(zoo.convert.to_huggingface(model, tmp_path / kind))


def _write(path, name, text):
    with open(os.path.join(path, name), "w", encoding="utf-8") as file:
        file.write(text)


def _edit_config(path, **changes):
    file = os.path.join(path, "config.json")
    with open(file) as f:
        config = json.load(f)
    config.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del config[key]
    with open(file, "w") as f:
        json.dump(config, f)


def _edit_tensor(path, name, change):
    from safetensors.numpy import load_file
    from safetensors.numpy import save_file

    file = os.path.join(path, "model.safetensors")
    tensors = load_file(file)
    tensors[name] = change(tensors[name].copy())
    save_file(tensors, file, metadata={"format": "pt"})


def read(kind, damage):
    """A case's call: write a `kind` directory, `damage(path)` it, read
    it with `zoo.convert.from_directory`."""
    def run(tmp_path):
        import zoo.convert

        path = _written(tmp_path, kind)
        damage(path)
        return zoo.convert.from_directory(path)
    return run


def config(kind, **changes):
    return read(kind, lambda path: _edit_config(path, **changes))


def file(kind, name, text):
    return read(kind, lambda path: _write(path, name, text))


def tensor(name, change):
    return read("bert", lambda path: _edit_tensor(path, name, change))


def with_nan(value):
    value[0, 0] = np.nan
    return value


def sharded_without_weight_map(path):
    os.rename(os.path.join(path, "model.safetensors"),
              os.path.join(path, "model-00001-of-00001.safetensors"))
    _write(path, "model.safetensors.index.json", '{"metadata": {}}')


def labels_with_gaps(tmp_path):
    import zoo.convert

    path = _written(tmp_path, "classifier")
    _edit_config(path, id2label={"0": "neg", "2": "pos", "5": "odd"})
    return zoo.convert.labels(path)


def release(config_name, text):
    """An original release's directory holding only its config file."""
    def run(tmp_path):
        import zoo.convert

        _write(str(tmp_path), config_name, text)
        return zoo.convert.from_directory(str(tmp_path))
    return run


KEY = "bert.encoder.layer.0.attention.self.key.weight"
NOT_JSON = '{"model_type": "bert", "hidden_size": 12'  # cut short
TMP = "tmp_path"

CASES = [
    Case("convert", "config.json cut short (not JSON)",
         "config.json is not valid JSON", fixture=TMP,
         call=file("bert", "config.json", NOT_JSON)),
    Case("convert", "config.json holding a list",
         "config.json must hold a JSON object", fixture=TMP,
         call=file("bert", "config.json", "[1, 2]")),
    Case("convert", "BERT config.json without `hidden_size`",
         "config.json lacks ['hidden_size']", fixture=TMP,
         call=config("bert", hidden_size=None)),
    Case("convert", "GPT-2 config.json without `n_layer`",
         "config.json lacks ['n_layer']", fixture=TMP,
         call=config("gpt2", n_layer=None)),
    Case("convert", "GPT-2 config.json with `n_layer: -1`",
         "n_layer=-1; it must be a positive integer", fixture=TMP,
         call=config("gpt2", n_layer=-1)),
    Case("convert", "BERT config.json with `hidden_size: \"128\"` (a string)",
         "hidden_size='128'; it must be a positive integer", fixture=TMP,
         call=config("bert", hidden_size="128")),
    Case("convert", "GPT-2 config.json with `layer_norm_epsilon: \"1e-5\"`",
         "it must be a number in [0, 1)", fixture=TMP,
         call=config("gpt2", layer_norm_epsilon="1e-5")),
    Case("convert", "config.json with `architectures: \"BertForMaskedLM\"` "
         "(not a list)", "must be a list of names", fixture=TMP,
         call=config("bert", architectures="BertForMaskedLM")),
    Case("convert", "a weight holding NaN",
         "holds NaN or infinite values", fixture=TMP,
         call=tensor(KEY, with_nan)),
    Case("convert", "int8 (quantized) weights",
         "the zoo reads floating-point weights", fixture=TMP,
         call=tensor(KEY, lambda value: (value * 100).astype("int8"))),
    Case("convert", "config.json's `id2label` with ids 0, 2, 5",
         "id2label must have the ids 0 to 2", fixture=TMP,
         call=labels_with_gaps),
    Case("convert", "merges.txt with a line that is not a merge",
         "is not two tokens separated by one space", fixture=TMP,
         call=file("gpt2", "merges.txt", "#version: 0.2\nt h e\n")),
    Case("convert", "vocab.txt without BERT's special tokens",
         "lacks BERT's special tokens", fixture=TMP,
         call=file("bert", "vocab.txt", "the\ncat\nsat\n")),
    Case("convert", "GPT-2 vocab.json cut short",
         "vocab.json is not valid JSON", fixture=TMP,
         call=file("gpt2", "vocab.json", '{"the": 0, "cat')),
    Case("convert", "tokenizer_config.json cut short",
         "tokenizer_config.json is not valid JSON", fixture=TMP,
         call=file("bert", "tokenizer_config.json", '{"do_lower_case": ')),
    Case("convert", "model.safetensors.index.json without `weight_map`",
         "has no weight_map", fixture=TMP,
         call=read("bert", sharded_without_weight_map)),
    Case("convert", "GPT-2 release whose hparams.json lacks `n_vocab`",
         "hparams.json lacks ['n_vocab']", fixture=TMP,
         call=release("hparams.json",
                      '{"n_ctx": 16, "n_embd": 8, "n_head": 2, "n_layer": 1}')),
    Case("convert", "BERT release whose bert_config.json is cut short",
         "bert_config.json is not valid JSON", fixture=TMP,
         call=release("bert_config.json", '{"hidden_size": 12')),
]
