"""A few training steps of one family under one distribution, in a fresh
Python (devices must be set up before the backend starts); writes the
trained weights to an `.npz` file.

    python tests/distribution_worker.py FAMILY DISTRIBUTION DEVICES OUT [OPTIMIZER]

FAMILY is gpt, bert or transformer; DISTRIBUTION one of
`zoo.training.distribution.KINDS` (`model_parallel` on a (1, DEVICES)
mesh); DEVICES how many devices to use. Besides the weights, OUT holds
`sharding:PATH`, each weight's `PartitionSpec` as text, under JAX.

The data are 8 sequences of different lengths (so the replicas see
different numbers of real tokens) in global batches of 4, without
dropout, with the recipes' AdamW (weight decay, norm clipping), or with
plain SGD (OPTIMIZER `sgd`, after OUT), so that any number of devices must
give the same weights. OUT also holds `history:loss`, the epochs' losses.
"""

import contextlib
import sys

import keras
import numpy as np

from zoo.models import Backbone
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.training import distribution
from zoo.training import optimizers

SIZES = dict(num_layers=1, hidden_dim=16, num_heads=2, intermediate_dim=32,
             vocabulary_size=40, max_sequence_length=16, dropout=0.0)
LENGTHS = [16, 3, 9, 12, 5, 16, 7, 2]


def data(family):
    rng = np.random.default_rng(0)
    ids = rng.integers(3, SIZES["vocabulary_size"], (len(LENGTHS), 16))
    mask = np.arange(16)[None, :] < np.array(LENGTHS)[:, None]
    ids = np.where(mask, ids, 0).astype("int32")
    mask = mask.astype("int32")
    if family == "gpt":
        return {"token_ids": ids, "padding_mask": mask}, None
    if family == "bert":
        return ({"token_ids": ids, "padding_mask": mask,
                 "segment_ids": np.zeros_like(ids)},
                rng.integers(0, 3, len(LENGTHS)).astype("int32"))
    return {"encoder_token_ids": ids, "encoder_padding_mask": mask,
            "decoder_token_ids": ids[::-1].copy(),
            "decoder_padding_mask": mask[::-1].copy()}, None


def model(family):
    if family == "gpt":
        return CausalLM(GPTDecoder.from_preset("gpt_nano", **SIZES))
    if family == "bert":
        return SequenceClassifier(BertEncoder.from_preset("bert_tiny", **SIZES),
                                  3, dropout=0.0)
    return Seq2SeqLM(Transformer.from_preset("transformer_small", **SIZES))


def main(family, kind, devices, out, optimizer="adamw"):
    """Mirrored and model_parallel are set up as a Keras user would (a
    strategy's scope, `set_distribution` with the backbone's layout map);
    data_parallel through `zoo.training.distribution.use`."""
    scope = contextlib.nullcontext()
    replicas = 1
    if kind == "mirrored":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
        scope = tf.distribute.MirroredStrategy(
            [f"/cpu:{i}" for i in range(devices)]).scope()
        replicas = devices
    elif kind == "model_parallel":
        mesh = keras.distribution.DeviceMesh(
            (1, devices), ("batch", "model"),
            keras.distribution.list_devices()[:devices])
        keras.distribution.set_distribution(keras.distribution.ModelParallel(
            layout_map=Backbone.get_layout_map(mesh), batch_dim_name="batch"))
    else:
        replicas = distribution.use(kind, devices)
    keras.utils.set_random_seed(0)
    with scope:
        task = model(family)
        x, y = data(family)
        task(x)  # builds the weights, which the optimizer sorts for decay
        if optimizer == "sgd":  # plain steps: any error of scale shows
            optimizer = keras.optimizers.SGD(0.1)
        else:
            optimizer = optimizers.adamw(task, 1e-3, clipnorm=0.1)  # clipped
        task.compile(optimizer=optimizer, jit_compile=False)
    history = task.fit(x, y, batch_size=4, epochs=2, shuffle=False,
                       verbose=0).history
    shardings = {f"sharding:{w.path}": str(w.value.sharding.spec)
                 for w in task.weights
                 if hasattr(getattr(w.value, "sharding", None), "spec")}
    np.savez(out, replicas=replicas, **shardings,
             **{"history:loss": np.array(history["loss"])}, **{
        w.path: keras.ops.convert_to_numpy(w) for w in task.weights})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
