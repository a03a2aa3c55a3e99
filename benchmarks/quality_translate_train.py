"""One library's run of `benchmarks.quality_translate`, inside its own
worker process.

The process is started as `python -m benchmarks.quality_translate --worker
SPEC`; `worker(spec)` trains the library the spec names on the batches of
the spec's .npz file (`quality_translate_recipe.prepare` wrote it),
translates the evaluation sources greedily every `eval_every` steps, and
prints one `RESULT {...}` line, with every evaluation (step, training
seconds, BLEU) and the peak memory. Nothing here imports TensorFlow,
Keras or zoo at module level.
"""

import math

import numpy as np

from benchmarks import measure
from benchmarks import quality_translate_recipe as recipe
from benchmarks.quality_train import Clock
from benchmarks.quality_train import keras_schedule
from benchmarks.quality_train import keras_settings
from benchmarks.workloads import keras_hub_transformer


def keras_dataset(data):
    """The training batches, in order, as a prefetched `tf.data`
    dataset of `(x, labels, weights)`."""
    import tensorflow as tf

    def spec(dtype):
        return tf.TensorSpec((None, None), dtype)

    inputs = {key: spec("bool" if key.endswith("mask") else "int32")
              for key in recipe.KEYS}
    return tf.data.Dataset.from_generator(
        lambda: recipe.training_batches(data),
        output_signature=(inputs, spec("int32"), spec("float32")),
    ).prefetch(tf.data.AUTOTUNE)


# zoo -------------------------------------------------------------------------


def zoo_task(data, spec):
    """(task, optimizer, loss, translate): zoo's model and optimizer as
    recipes/transformer_finetune.py builds them, the task's own loss, and
    the task's own greedy decoding (`zoo.evaluation.translate`)."""
    from zoo import evaluation
    from zoo.data.tokenizer_classes import SubwordTokenizer
    from zoo.models import Transformer
    from zoo.tasks import Seq2SeqLM
    from zoo.training import optimizers

    backbone = Transformer.from_preset(
        recipe.PRESET, vocabulary_size=data["vocabulary_size"],
        attention_dropout=recipe.ATTENTION_DROPOUT)
    task = Seq2SeqLM(backbone, SubwordTokenizer(data["proto"]),
                     label_smoothing=recipe.LABEL_SMOOTHING)
    schedule = optimizers.schedule(
        "inverse_sqrt", spec["learning_rate"], spec["steps"],
        spec["warmup_steps"], hidden_dim=backbone.hidden_dim)
    optimizer = optimizers.adamw(
        task, schedule, weight_decay=0.0, beta_1=recipe.BETA_1,
        beta_2=recipe.BETA_2, epsilon=recipe.EPSILON,
        clipnorm=recipe.CLIPNORM)

    def translate(sources):
        return evaluation.translate(task, sources, "greedy",
                                    recipe.DECODE_BATCH,
                                    max_new_tokens=data["max_new_tokens"])

    return task, optimizer, "auto", translate


# keras-hub -------------------------------------------------------------------


def smoothed_cross_entropy(classes):
    """Keras' categorical cross entropy with label smoothing (Keras' sparse
    one has none), of sparse labels made one-hot (B, T, V); the mean over
    the weighted positions, as zoo's loss."""
    import keras
    from keras import ops

    class SmoothedCrossEntropy(keras.losses.Loss):
        def call(self, y_true, y_pred):
            one_hot = ops.one_hot(ops.cast(y_true, "int32"), classes)
            return keras.losses.categorical_crossentropy(
                one_hot, y_pred, from_logits=True,
                label_smoothing=recipe.LABEL_SMOOTHING)  # (B, T)

    return SmoothedCrossEntropy(reduction="mean_with_sample_weight")


def keras_hub_layers(model):
    """(embed, encoder layers, decoder layers, logits) of a
    `keras_hub_transformer` model, its layers found by name: `embed(ids,
    start)` (B, L) -> (B, L, D) as the model embeds (dropout aside) the
    positions from `start` on, `logits(hidden)` (B, D) -> (B, V) the tied
    output."""
    embedding = model.get_layer("embedding")
    positions = model.get_layer("position_encoding")
    count = sum(layer.name.startswith("decoder_layer_")
                for layer in model.layers)
    scale = math.sqrt(embedding.output_dim)

    def embed(ids, start=0):
        x = embedding(ids) * scale  # (B, L, D)
        return x + positions(x, start_index=start)

    def logits(hidden):
        return embedding(hidden, reverse=True)

    encoders, decoders = ([model.get_layer(f"{kind}_layer_{i}")
                           for i in range(count)]
                          for kind in ("encoder", "decoder"))
    return embed, encoders, decoders, logits


def keras_hub_caches(decoders, encoded, length):
    """Zero key/value caches of each decoder layer, keras-hub's (B, 2, L,
    N, H): self-attention over `length` target positions, cross-attention
    over the S positions of `encoded` (B, S, D)."""
    import keras
    from keras import ops

    batch, sources, width = encoded.shape
    heads = decoders[0].num_heads
    dtype = keras.backend.standardize_dtype(encoded.dtype)

    def zeros(positions):
        return ops.zeros((batch, 2, positions, heads, width // heads), dtype)

    return ([zeros(length) for _ in decoders],
            [zeros(sources) for _ in decoders])


def keras_hub_greedy(model, source_ids, source_mask, start_id, end_id,
                     max_new_tokens):
    """Greedy decoding of `keras_hub_transformer`'s model: the sources
    (B, S) encoded once, then one token per step through the decoder
    layers against keras-hub's key/value caches (the cross-attention's
    filled at the first step). Returns B lists of new ids, each through
    its end token (`max_new_tokens` ids at most)."""
    from keras import ops

    embed, encoders, decoders, logits = keras_hub_layers(model)
    encoded = embed(source_ids)  # (B, S, D)
    for layer in encoders:
        encoded = layer(encoded, padding_mask=source_mask)
    self_caches, cross_caches = keras_hub_caches(decoders, encoded,
                                                 max_new_tokens)
    batch = len(source_ids)
    tokens = np.full((batch, max_new_tokens), end_id, "int32")
    token, done = np.full((batch, 1), start_id, "int32"), np.zeros(batch, bool)
    for index in range(max_new_tokens):
        x = embed(token, start=index)  # (B, 1, D)
        for i, layer in enumerate(decoders):
            x, self_caches[i], cross_caches[i] = layer(
                x, encoded, encoder_padding_mask=source_mask,
                self_attention_cache=self_caches[i],
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_caches[i],
                cross_attention_cache_update_index=0 if index == 0 else None)
        new = ops.convert_to_numpy(ops.argmax(logits(x[:, 0]), axis=-1))
        tokens[:, index] = np.where(done, end_id, new)  # (B,)
        done |= tokens[:, index] == end_id
        if done.all():
            break
        token = tokens[:, index:index + 1]
    return [row[:list(row).index(end_id) + 1 if end_id in row else None]
            .tolist() for row in tokens]


def padded(rows, pad_id):
    """(ids, mask), both (B, longest row): `rows` right-padded."""
    lengths = np.array([len(row) for row in rows])
    mask = np.arange(lengths.max())[None, :] < lengths[:, None]  # (B, S)
    ids = np.full(mask.shape, pad_id, "int32")
    ids[mask] = np.concatenate(rows)
    return ids, mask


def keras_hub_translate(model, tokenizer, sources, data):
    """Detokenized greedy translations of `sources` (lists of ids), decoded
    as `zoo.evaluation.translate` does: by batches of similar length, the
    output in the input order."""
    order = np.argsort([len(ids) for ids in sources], kind="stable")
    texts = [None] * len(sources)
    for begin in range(0, len(order), recipe.DECODE_BATCH):
        chunk = order[begin:begin + recipe.DECODE_BATCH]
        ids, mask = padded([sources[i] for i in chunk], data["pad_id"])
        rows = keras_hub_greedy(model, ids, mask, data["start_id"],
                                data["end_id"], data["max_new_tokens"])
        ended = [[t for t in row if t != data["end_id"]] for row in rows]
        for i, text in zip(chunk, tokenizer.detokenize(ended)):
            texts[i] = text
    return texts


def keras_hub_task(data, spec):
    """(model, optimizer, loss, translate) for keras-hub: the model from its
    layers, Keras' Adam with the same schedule (as a table), the same
    label-smoothed loss, and `keras_hub_translate` with keras-hub's
    SentencePiece tokenizer over the same vocabulary."""
    import keras
    import keras_hub

    size = data["vocabulary_size"]
    model = keras_hub_transformer(dict(recipe.MODEL, vocabulary_size=size))
    optimizer = keras.optimizers.Adam(
        keras_schedule(recipe.learning_rates(
            spec["steps"], spec["warmup_steps"], spec["learning_rate"])),
        beta_1=recipe.BETA_1, beta_2=recipe.BETA_2, epsilon=recipe.EPSILON,
        global_clipnorm=recipe.CLIPNORM)
    tokenizer = keras_hub.tokenizers.SentencePieceTokenizer(
        proto=data["proto"])

    def translate(sources):
        return keras_hub_translate(model, tokenizer, sources, data)

    return model, optimizer, smoothed_cross_entropy(size), translate


# Training --------------------------------------------------------------------


def evaluated(history, library, step, seconds, bleu):
    """Add an evaluation to `history` and print it."""
    history.append({"step": step, "seconds": seconds, "bleu": bleu})
    print(f"{library} step {step}: {seconds:.1f} s, BLEU {bleu:.2f}",
          flush=True)


def train(spec, data):
    """Train zoo's or keras-hub's model with `model.fit`, --eval_every steps
    per execution; at the end of each, translate the evaluation set with
    the clock paused, and stop once BLEU reaches the target (unless
    `keep_going`)."""
    import keras

    precision, xla = keras_settings(spec, width=recipe.MODEL["hidden_dim"],
                                    fixed_shapes=False)
    keras.utils.set_random_seed(spec["seed"])
    dataset = keras_dataset(data)
    sources, references = recipe.evaluation_set(data)
    history, every = [], spec["eval_every"]

    class Evaluations(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            clock.pause()
            bleu = recipe.bleu(translate(sources), references)
            evaluated(history, spec["library"], (epoch + 1) * every,
                      clock.seconds(), bleu)
            if bleu >= spec["target"] and not spec["keep_going"]:
                self.model.stop_training = True
            clock.resume()

    clock = Clock()
    build = zoo_task if spec["library"] == "zoo" else keras_hub_task
    model, optimizer, loss, translate = build(data, spec)
    model.compile(optimizer=optimizer, loss=loss, weighted_metrics=[],
                  jit_compile=xla, steps_per_execution=every)
    model.fit(dataset, epochs=spec["steps"] // every, steps_per_epoch=every,
              callbacks=[Evaluations()], verbose=0)
    last = history[-1]
    return {"library": spec["library"],
            "settings": f"{precision}, XLA {'on' if xla else 'off'}",
            "parameters": sum(int(np.prod(v.shape)) for v in model.weights),
            "history": history, "final_bleu": last["bleu"],
            "steps": last["step"], "train_seconds": last["seconds"],
            "steps_per_second": last["step"] / last["seconds"]}


def worker(spec):
    """Train the library `spec` names; print its result (with its peak
    memory) as the RESULT line `benchmarks.run.run_worker` reads."""
    measure.print_result(train(spec, recipe.load(spec["data"])))
