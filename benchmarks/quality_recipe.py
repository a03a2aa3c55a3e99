"""The recipe `benchmarks.quality` trains every library with: nanoGPT's
CPU configuration of the Tiny Shakespeare character model, the optimizer
and schedule of recipes/gpt_pretrain.py, and the windows of text every
library sees.

NumPy only: the PyTorch worker imports neither TensorFlow nor Keras.
"""

import numpy as np

# nanoGPT's CPU run (README, "I only have a macbook"): the model and batch.
# zoo's `gpt_nano` preset has these sizes (tests/benchmarks check it).
MODEL = dict(num_layers=4, num_heads=4, hidden_dim=128, intermediate_dim=512,
             max_sequence_length=64)
CONTEXT = MODEL["max_sequence_length"]  # T
BATCH = 12  # B
INIT_STDDEV = 0.02  # GPT-2's
LAYER_NORM_EPSILON = 1e-5
TRAIN_FRACTION = 0.9  # nanoGPT's data/shakespeare_char/prepare.py
# The optimizer and schedule of recipes/gpt_pretrain.py's defaults.
LEARNING_RATE = 1e-3  # peak
FINAL_LEARNING_RATE = 1e-4
DECAY_FRACTION = 0.2  # of the steps after the warmup; the peak holds before
BETA_1, BETA_2 = 0.9, 0.99
EPSILON = 1e-8  # zoo's adamw and PyTorch's (Keras' own default is 1e-7)
WEIGHT_DECAY = 0.1
CLIPNORM = 1.0


def learning_rates(steps, warmup_steps):
    """The learning rate of each step (from 0), as zoo's
    `optimizers.schedule("linear", ...)` gives it in recipes/gpt_pretrain:
    linear warmup, the peak, then linear decay over the last
    `DECAY_FRACTION` of the steps after the warmup."""
    span = max(round((steps - warmup_steps) * DECAY_FRACTION), 1)
    decay_start = steps - span
    rates = []
    for step in range(steps):
        if step < warmup_steps:
            rates.append(LEARNING_RATE * (step + 1) / warmup_steps)
            continue
        progress = min(max((step - decay_start) / span, 0.0), 1.0)
        rates.append(FINAL_LEARNING_RATE
                     + (LEARNING_RATE - FINAL_LEARNING_RATE) * (1 - progress))
    return rates


def encode(text):
    """(vocabulary size, ids): the text's characters, sorted, and each
    character's index among them."""
    code_points = np.frombuffer(text.encode("utf-32-le"), "uint32")
    vocabulary, ids = np.unique(code_points, return_inverse=True)
    return len(vocabulary), ids.astype("int32")


def train_offsets(length, steps, seed):
    """(steps, B) random window starts in a split of `length` tokens."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, length - CONTEXT, (steps, BATCH))


def validation_offsets(length, batches):
    """Starts of the non-overlapping validation windows, whole batches of
    B, at most `batches` of them."""
    count = min((length - 1) // CONTEXT, batches * BATCH) // BATCH * BATCH
    if count == 0:
        raise ValueError(
            f"The validation split has {length} characters: fewer than one "
            f"batch of {BATCH} windows of {CONTEXT} + 1. Give more text.")
    return CONTEXT * np.arange(count)


def load(spec):
    """The vocabulary size and the windows every library trains and
    validates on: `train` (steps x B, T + 1), `validation` (n x B, T + 1);
    a window's first T tokens are the inputs, its last T the labels."""
    with open(spec["data"], encoding="utf-8") as f:
        vocabulary_size, ids = encode(f.read())
    split = int(TRAIN_FRACTION * len(ids))
    train, validation = ids[:split], ids[split:]
    if len(train) <= CONTEXT:
        raise ValueError(f"The training split has {len(train)} characters: "
                         f"fewer than one window of {CONTEXT} + 1.")
    window = np.arange(CONTEXT + 1)
    starts = train_offsets(len(train), spec["steps"], spec["seed"])
    return {
        "vocabulary_size": vocabulary_size,
        "train": train[starts.reshape(-1, 1) + window],  # (steps B, T + 1)
        "validation": validation[validation_offsets(
            len(validation), spec["validation_batches"])[:, None] + window],
    }
