"""One library's run of `benchmarks.quality`, inside its own worker process.

The process is started as `python -m benchmarks.quality --worker SPEC`;
`worker(spec)` trains the library the spec names on the windows of
`benchmarks.quality_recipe.load` and prints one `RESULT {...}` line, with
every validation (step, training seconds, loss) and the peak memory.
Nothing here imports TensorFlow, Keras, zoo or PyTorch at module level.
"""

import os
import time

import numpy as np

from benchmarks import measure
from benchmarks.quality_recipe import BATCH
from benchmarks.quality_recipe import BETA_1
from benchmarks.quality_recipe import BETA_2
from benchmarks.quality_recipe import CLIPNORM
from benchmarks.quality_recipe import CONTEXT
from benchmarks.quality_recipe import DECAY_FRACTION
from benchmarks.quality_recipe import EPSILON
from benchmarks.quality_recipe import FINAL_LEARNING_RATE
from benchmarks.quality_recipe import INIT_STDDEV
from benchmarks.quality_recipe import LAYER_NORM_EPSILON
from benchmarks.quality_recipe import LEARNING_RATE
from benchmarks.quality_recipe import MODEL
from benchmarks.quality_recipe import WEIGHT_DECAY
from benchmarks.quality_recipe import learning_rates
from benchmarks.quality_recipe import load


class Clock:
    """Training seconds: the time since it started, validations excluded."""

    def __init__(self):
        self.started = time.perf_counter()
        self.excluded = 0.0
        self.paused_at = None

    def seconds(self):
        now = self.paused_at or time.perf_counter()
        return now - self.started - self.excluded

    def pause(self):
        self.paused_at = time.perf_counter()

    def resume(self):
        self.excluded += time.perf_counter() - self.paused_at
        self.paused_at = None


def validated(history, library, step, seconds, loss):
    """Add a validation to `history` and print it."""
    history.append({"step": step, "seconds": seconds, "loss": loss})
    print(f"{library} step {step}: {seconds:.1f} s, validation loss "
          f"{loss:.4f}", flush=True)


def outcome(spec, history, clock, parameters, settings):
    return {"library": spec["library"], "settings": settings,
            "parameters": parameters, "history": history,
            "final_loss": history[-1]["loss"],
            "train_seconds": clock.seconds(),
            "steps_per_second": spec["steps"] / clock.seconds()}


# Keras: zoo and keras-hub -------------------------------------------------------


def keras_dataset(windows):
    """`({"token_ids": (B, T)}, labels (B, T))` batches of `windows`, in
    order, as a prefetched `tf.data` dataset."""
    import tensorflow as tf

    pairs = ({"token_ids": windows[:, :-1]}, windows[:, 1:])
    return (tf.data.Dataset.from_tensor_slices(pairs)
            .batch(BATCH, drop_remainder=True).prefetch(tf.data.AUTOTUNE))


def keras_schedule(rates):
    """A Keras schedule that looks the step's rate up in `rates`."""
    import keras
    from keras import ops

    class Table(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            index = ops.minimum(ops.cast(step, "int32"), len(rates) - 1)
            return ops.take(ops.convert_to_tensor(rates, "float32"), index)

    return Table()


def zoo_task(vocabulary_size, spec):
    """(task, optimizer, loss): zoo's model and the recipe's optimizer, as
    recipes/gpt_pretrain.py builds them; the task's own loss."""
    from zoo.models import GPTDecoder
    from zoo.tasks import CausalLM
    from zoo.training import optimizers

    backbone = GPTDecoder.from_preset("gpt_nano", dropout=0.0,
                                      vocabulary_size=vocabulary_size)
    task = CausalLM(backbone)
    schedule = optimizers.schedule(
        "linear", LEARNING_RATE, spec["steps"], spec["warmup_steps"],
        FINAL_LEARNING_RATE, DECAY_FRACTION)
    optimizer = optimizers.adamw(
        task, schedule, weight_decay=WEIGHT_DECAY, beta_1=BETA_1,
        beta_2=BETA_2, epsilon=EPSILON, clipnorm=CLIPNORM)
    return task, optimizer, "auto"


def keras_hub_model(vocabulary_size):
    """GPT-2's architecture from keras-hub's layers, at `MODEL`'s sizes:
    token ids (B, T) to logits (B, T, V), the output tied to the input
    embedding."""
    import keras
    import keras_hub

    def initializer():
        return keras.initializers.RandomNormal(stddev=INIT_STDDEV)

    def gelu_approximate(x):  # GPT-2's tanh GELU, as GPT2Backbone's
        return keras.activations.gelu(x, approximate=True)

    d = MODEL["hidden_dim"]
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    embedding = keras_hub.layers.ReversibleEmbedding(
        vocabulary_size, d, tie_weights=True,
        embeddings_initializer=initializer(), name="token_embedding")
    x = embedding(token_ids)  # (B, T, D)
    x = x + keras_hub.layers.PositionEmbedding(
        CONTEXT, initializer=initializer(), name="position_embedding")(x)
    for i in range(MODEL["num_layers"]):
        x = keras_hub.layers.TransformerDecoder(
            intermediate_dim=MODEL["intermediate_dim"],
            num_heads=MODEL["num_heads"], dropout=0.0,
            activation=gelu_approximate,
            layer_norm_epsilon=LAYER_NORM_EPSILON,
            kernel_initializer=initializer(), normalize_first=True,
            name=f"transformer_layer_{i}")(x)  # (B, T, D), causal
    x = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON,
                                        name="layer_norm")(x)
    logits = embedding(x, reverse=True)  # (B, T, V)
    return keras.Model(token_ids, logits)


def keras_hub_decayed(model):
    """The variables keras-hub's AdamW decays: the kernels, by the rule of
    zoo's `optimizers.decayed_variables`."""
    return [v for v in model.trainable_variables
            if v.path.split("/")[-1] == "kernel" and len(v.shape) >= 2]


def keras_hub_task(vocabulary_size, spec):
    """(model, optimizer, loss) for keras-hub, with Keras' own AdamW: the
    same schedule, and decay on the same kernels as zoo's `adamw`."""
    import keras

    model = keras_hub_model(vocabulary_size)
    optimizer = keras.optimizers.AdamW(
        keras_schedule(learning_rates(spec["steps"], spec["warmup_steps"])),
        weight_decay=WEIGHT_DECAY, beta_1=BETA_1, beta_2=BETA_2,
        epsilon=EPSILON, global_clipnorm=CLIPNORM)
    decayed = {id(v) for v in keras_hub_decayed(model)}
    optimizer.exclude_from_weight_decay(var_list=[
        v for v in model.trainable_variables if id(v) not in decayed])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return model, optimizer, loss


def keras_settings(spec, width=MODEL["hidden_dim"], fixed_shapes=True):
    """(precision, xla): zoo's from `zoo.machine` (setting the dtype
    policy), keras-hub's as given."""
    import keras

    precision, xla = spec["precision"], spec["xla"]
    if spec["library"] == "zoo":  # as the recipe: auto, by the model's width
        from zoo import machine

        choice = machine.use(precision, xla, fixed_shapes=fixed_shapes,
                             width=width)
        return choice.precision, choice.xla
    keras.config.set_dtype_policy(precision)
    return precision, xla


def train_keras(spec, data):
    """Train zoo's or keras-hub's model with `model.fit`, validating at the
    end of every epoch of --eval_every steps (one execution)."""
    import keras

    precision, xla = keras_settings(spec)
    keras.utils.set_random_seed(spec["seed"])
    train, validation = (keras_dataset(data[key])
                         for key in ("train", "validation"))
    history, every = [], spec["eval_every"]

    class Validations(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            clock.pause()

        def on_test_end(self, logs=None):
            self.seconds = clock.seconds()
            clock.resume()

        def on_epoch_end(self, epoch, logs=None):
            validated(history, spec["library"], (epoch + 1) * every,
                      self.seconds, float(logs["val_loss"]))

    clock = Clock()
    build = zoo_task if spec["library"] == "zoo" else keras_hub_task
    model, optimizer, loss = build(data["vocabulary_size"], spec)
    model.compile(optimizer=optimizer, loss=loss, weighted_metrics=[],
                  jit_compile=xla, steps_per_execution=every)
    model.fit(train, epochs=spec["steps"] // every, steps_per_epoch=every,
              validation_data=validation, callbacks=[Validations()],
              verbose=0)
    settings = f"{precision}, XLA {'on' if xla else 'off'}"
    parameters = sum(int(np.prod(v.shape)) for v in model.weights)
    return outcome(spec, history, clock, parameters, settings)


# PyTorch ------------------------------------------------------------------------


def torch_model(vocabulary_size):
    """`transformers.GPT2LMHeadModel` at `MODEL`'s sizes, without dropout
    or a key/value cache."""
    import transformers

    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=vocabulary_size, n_positions=CONTEXT,
        n_embd=MODEL["hidden_dim"], n_layer=MODEL["num_layers"],
        n_head=MODEL["num_heads"], n_inner=MODEL["intermediate_dim"],
        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        layer_norm_epsilon=LAYER_NORM_EPSILON,
        initializer_range=INIT_STDDEV, use_cache=False,
        bos_token_id=None, eos_token_id=None))


def torch_optimizer(model, rates):
    """(AdamW, LambdaLR): decay on the 2-D weights but the embeddings (as
    zoo's on its kernels); step s at `rates[s]`."""
    import torch

    embeddings = [model.transformer.wte.weight, model.transformer.wpe.weight]
    decayed, kept = [], []
    for p in model.parameters():
        is_embedding = any(p is e for e in embeddings)
        (decayed if p.dim() >= 2 and not is_embedding else kept).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decayed, "weight_decay": WEIGHT_DECAY},
         {"params": kept, "weight_decay": 0.0}],
        lr=LEARNING_RATE, betas=(BETA_1, BETA_2), eps=EPSILON)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: rates[min(s, len(rates) - 1)] / LEARNING_RATE)
    return optimizer, schedule


def train_torch(spec, data):
    """Train the PyTorch peer step by step, validating every --eval_every
    steps under `torch.no_grad`."""
    import torch

    torch.set_num_threads(len(os.sched_getaffinity(0))
                          if hasattr(os, "sched_getaffinity")
                          else os.cpu_count())
    torch.manual_seed(spec["seed"])
    train, validation = (torch.from_numpy(data[key]).long()
                         for key in ("train", "validation"))
    bfloat16 = spec["precision"] == "mixed_bfloat16"
    history, every = [], spec["eval_every"]

    clock = Clock()
    model = torch_model(data["vocabulary_size"])
    optimizer, schedule = torch_optimizer(
        model, learning_rates(spec["steps"], spec["warmup_steps"]))
    forward = torch.compile(model) if spec["torch_compile"] else model

    def loss_of(windows):  # (B, T + 1)
        with torch.autocast("cpu", torch.bfloat16, enabled=bfloat16):
            logits = forward(input_ids=windows[:, :-1]).logits  # (B, T, V)
        return torch.nn.functional.cross_entropy(
            logits.float().flatten(0, 1), windows[:, 1:].flatten())

    model.train()
    for step in range(spec["steps"]):
        loss_of(train[step * BATCH:(step + 1) * BATCH]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIPNORM)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        if (step + 1) % every == 0:
            clock.pause()
            model.eval()
            with torch.no_grad():
                loss = np.mean([loss_of(batch).item()
                                for batch in validation.split(BATCH)])
            model.train()
            validated(history, "pytorch", step + 1, clock.seconds(),
                      float(loss))
            clock.resume()
    compiled = "torch.compile" if spec["torch_compile"] else "eager"
    settings = f"{spec['precision']}, {compiled}"
    parameters = sum(p.numel() for p in model.parameters())
    return outcome(spec, history, clock, parameters, settings)


def worker(spec):
    """Train the library `spec` names; print its result (with its peak
    memory) as the RESULT line `benchmarks.run.run_worker` reads."""
    data = load(spec)
    train = train_torch if spec["library"] == "pytorch" else train_keras
    measure.print_result(train(spec, data))
