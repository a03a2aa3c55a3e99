"""PyTorch and `transformers` for the tests, in a process of their own.

A test worker that had imported PyTorch beside TensorFlow crashed (a
segmentation fault in a later, TensorFlow-only test), so the references
that `transformers` computes run in one child Python process per test
worker, started with `spawn` (a fresh interpreter, no TensorFlow) and
reused by every test of that worker. Tests call the functions below
through `call`: arguments and results are NumPy arrays, lists and strings.

    expected = pytorch_process.call(pytorch_process.outputs, path,
                                    "BertModel", {"input_ids": ids})

This module imports neither PyTorch nor TensorFlow at its top.
"""

import atexit
import concurrent.futures
import importlib.util
import multiprocessing

import pytest

_executor = None


def require():
    """Skip the calling test where PyTorch or `transformers` is missing
    (CI installs both: the `test` extra)."""
    for name in ("torch", "transformers"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed (pip install -e \".[test]\")")


def call(function, *args, **kwargs):
    """`function(*args, **kwargs)` in the child process; its result. A
    child that died (a crash in an earlier call) is replaced."""
    global _executor
    require()
    if _executor is None:
        _executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        atexit.register(_executor.shutdown)
    try:
        return _executor.submit(function, *args, **kwargs).result()
    except concurrent.futures.process.BrokenProcessPool:
        _executor = None
        raise


# What runs in the child -----------------------------------------------------

def _model(directory, architecture):
    import transformers

    return getattr(transformers, architecture).from_pretrained(directory).eval()


def random_model(architecture, config, directory, seed=0, bias=False):
    """A `transformers` `architecture` with random weights (seed `seed`)
    from `config` ({"model_type": ..., settings}), saved to `directory`.
    `bias`: a random MarianMT `final_logits_bias` (zeros by default)."""
    import torch
    import transformers

    config = dict(config)
    config = transformers.AutoConfig.for_model(config.pop("model_type"),
                                               **config)
    torch.manual_seed(seed)
    model = getattr(transformers, architecture)(config).eval()
    if bias:
        with torch.no_grad():
            model.final_logits_bias.copy_(
                torch.randn_like(model.final_logits_bias))
    model.save_pretrained(directory)
    return str(directory)


def outputs(directory, architecture, inputs, names):
    """The output fields `names` of the model saved in `directory` on
    `inputs` ({argument: int array}), as float32 arrays."""
    import torch

    model = _model(directory, architecture)
    with torch.no_grad():
        result = model(**{k: torch.tensor(v) for k, v in inputs.items()})
    return {name: getattr(result, name).numpy() for name in names}


def generate(directory, architecture, prompt, **options):
    """`model.generate` of one prompt (a list of ids): a list of ids."""
    import torch

    model = _model(directory, architecture)
    ids = torch.tensor([prompt])
    return model.generate(ids, attention_mask=torch.ones_like(ids),
                          **options)[0].tolist()


def state(directory, architecture):
    """{name: array} of the model's `state_dict`."""
    model = _model(directory, architecture)
    return {k: v.numpy() for k, v in model.state_dict().items()}


def copy_model(directory, architecture, into, target):
    """The weights of `directory`'s `architecture` as a `target` (e.g. its
    GPT2Model inside a GPT2LMHeadModel), saved to `into`."""
    import transformers

    source = _model(directory, architecture)
    model = getattr(transformers, target)(source.config).eval()
    part = getattr(source, model.base_model_prefix, source)
    model.load_state_dict(part.state_dict())
    model.save_pretrained(into)
    return str(into)


def tokenize(directory, texts, target=False, **options):
    """`AutoTokenizer` ids of each of `texts` (lists of ints); `target`:
    as a translation's targets (`text_target=`)."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    if target:
        return [tokenizer(text_target=text, **options)["input_ids"]
                for text in texts]
    return [tokenizer(text, **options)["input_ids"] for text in texts]


def decode(directory, rows, **options):
    """`AutoTokenizer.decode` of each row of ids."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    return [tokenizer.decode(row, **options) for row in rows]


def resave_tokenizer(directory, into):
    """`AutoTokenizer.from_pretrained(directory).save_pretrained(into)`:
    the files `transformers` itself writes (`tokenizer.json`)."""
    import transformers

    transformers.AutoTokenizer.from_pretrained(directory).save_pretrained(into)


def to_bfloat16(file):
    """Rewrite a safetensors file with every tensor in bfloat16."""
    import safetensors.torch

    tensors = safetensors.torch.load_file(file)
    safetensors.torch.save_file({k: v.bfloat16() for k, v in tensors.items()},
                                file, metadata={"format": "pt"})
