"""AdamW with the usual exclusions, and the learning-rate schedules.

Weight decay (Loshchilov & Hutter 2019) applies to the kernels of the
dense projections only. Biases, LayerNorm scales and shifts, embedding
tables and the masked-LM output bias are not decayed, as in BERT and GPT-2.
The often-copied name list `["LayerNorm", "bias"]` comes from the original
TensorFlow BERT and matches nothing in Keras 3, whose LayerNorm variables
are called `gamma` and `beta`; so variables are chosen here by what they
are (a `kernel`), not by a list of names, and tests/training assert the
resulting set.
"""

import math

import keras
from keras import ops

from zoo import backend


def decayed_variables(model):
    """The variables AdamW should decay: kernels of dense projections."""
    return [
        v for v in model.trainable_variables
        if v.path.split("/")[-1] == "kernel" and len(v.shape) >= 2
    ]


@keras.saving.register_keras_serializable(package="zoo")
class AdamW(keras.optimizers.AdamW):
    """`keras.optimizers.AdamW`, given dense gradients.

    On TensorFlow the gradient of an embedding lookup is a
    `tf.IndexedSlices` holding one row per occurrence of each id. Keras
    3.15's Adam squares those rows one by one for its second moment (the
    sum of g_i^2 where Adam's is (sum of g_i)^2), its global-norm clip
    measures them one by one, and a `tf.distribute` all-reduce concatenates
    the replicas' rows. Summing the rows first gives Adam's update; Adam's
    moments change every row of a table at each step anyway.
    (tests/training/test_optimizers.py pins Keras' behaviour.)

    Under a `tf.distribute` strategy Keras clips each replica's share of
    the gradient by its own norm before the shares are summed; here
    `global_clipnorm` clips by the norm of their sum, as on one device
    (with gradient accumulation, Keras' own clipping of the average).
    """

    def __init__(self, *args, global_clipnorm=None,
                 gradient_accumulation_steps=None, **kwargs):
        ours = global_clipnorm if not gradient_accumulation_steps else None
        super().__init__(
            *args, global_clipnorm=None if ours else global_clipnorm,
            gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)
        self.summed_clipnorm = ours

    def apply(self, grads, trainable_variables=None):
        grads = backend.dense_gradients(grads)
        if self.summed_clipnorm:
            grads = clip_by_summed_norm(grads, self.summed_clipnorm)
        return super().apply(grads, trainable_variables)

    def get_config(self):
        config = super().get_config()
        if self.summed_clipnorm:
            config["global_clipnorm"] = self.summed_clipnorm
        return config


def clip_by_summed_norm(grads, clipnorm):
    """`grads` scaled by clipnorm / max(norm, clipnorm), where norm is that
    of the gradient summed over the replicas (Keras' `clip_by_global_norm`
    on one device)."""
    summed = [backend.replica_sum(g) for g in grads if g is not None]
    norm = ops.sqrt(ops.sum(ops.stack([ops.sum(ops.square(g))
                                       for g in summed])))
    scale = clipnorm * ops.minimum(1.0 / norm, 1.0 / clipnorm)
    scale = scale + (norm - norm)  # NaN for an infinite or NaN norm
    return [None if g is None else g * scale for g in grads]


def adamw(model, learning_rate, weight_decay=0.01, beta_1=0.9, beta_2=0.999,
          epsilon=1e-8, clipnorm=1.0, gradient_accumulation_steps=1):
    """`AdamW` that decays only `decayed_variables(model)`.

    Args:
        model: the model to be trained.
        learning_rate: float or a `LearningRateSchedule` (of the step).
        weight_decay: float; decoupled decay per unit of learning rate.
        clipnorm: float or None; clip the global gradient norm.
        gradient_accumulation_steps: int; average the gradients of this
            many batches per update (1: update every batch). The step the
            schedule sees counts batches.
    """
    optimizer = AdamW(
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        beta_1=beta_1,
        beta_2=beta_2,
        epsilon=epsilon,
        global_clipnorm=clipnorm or None,
        gradient_accumulation_steps=(
            gradient_accumulation_steps if gradient_accumulation_steps > 1
            else None
        ),
    )
    decayed = {id(v) for v in decayed_variables(model)}
    optimizer.exclude_from_weight_decay(
        var_list=[v for v in model.trainable_variables if id(v) not in decayed]
    )
    return optimizer


@keras.saving.register_keras_serializable(package="zoo")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `peak`, hold, then linear or cosine decay to `final`.

    Step `s` (counting from 0) has learning rate

        peak * (s + 1) / warmup_steps                       s < warmup_steps
        peak                                                s < decay_start
        final + (peak - final) * f((s - decay_start) / decay_span)   after

    where f(p) = 1 - p (linear) or (1 + cos(pi p)) / 2 (cosine), clipped at
    p = 1, and the decay spans the last `decay_fraction` of the steps after
    the warmup. `decay_fraction=1` is the usual warmup + decay;
    a smaller one holds the peak first, the warmup-stable-decay schedule
    (Hu et al. 2024, "MiniCPM"), which gives short runs more steps at the
    peak. "constant" keeps `peak` after the warmup.
    """

    def __init__(self, peak, total_steps, warmup_steps=0, decay="cosine",
                 final=0.0, decay_fraction=1.0):
        if decay not in ("linear", "cosine", "constant"):
            raise ValueError(
                f"decay must be 'linear', 'cosine' or 'constant'; got {decay!r}."
            )
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(
                f"warmup_steps={warmup_steps} must be between 0 and the "
                f"number of steps, {total_steps}."
            )
        if not 0 < decay_fraction <= 1:
            raise ValueError(
                f"decay_fraction must be in (0, 1]; got {decay_fraction}."
            )
        self.peak = peak
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.decay = decay
        self.final = final
        self.decay_fraction = decay_fraction

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = self.peak * (step + 1) / max(self.warmup_steps, 1)
        span = max(round((self.total_steps - self.warmup_steps)
                         * self.decay_fraction), 1)
        decay_start = self.total_steps - span
        progress = ops.clip((step - decay_start) / span, 0.0, 1.0)
        if self.decay == "linear":
            shape = 1.0 - progress
        elif self.decay == "cosine":
            shape = 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            shape = ops.ones_like(progress)
        decayed = self.final + (self.peak - self.final) * shape
        return ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "decay": self.decay,
                "final": self.final, "decay_fraction": self.decay_fraction}


@keras.saving.register_keras_serializable(package="zoo")
class InverseSquareRoot(keras.optimizers.schedules.LearningRateSchedule):
    """The Transformer's schedule (Vaswani et al. 2017, eq. 3):

        lrate = scale * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)

    with `step` counted from 1: linear warmup for `warmup_steps`, then
    decay with the inverse square root of the step. The paper uses
    scale = 1, warmup_steps = 4000.
    """

    def __init__(self, hidden_dim, warmup_steps=4000, scale=1.0):
        self.hidden_dim = hidden_dim
        self.warmup_steps = warmup_steps
        self.scale = scale

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        return (self.scale * self.hidden_dim**-0.5
                * ops.minimum(step**-0.5, step * self.warmup_steps**-1.5))

    def get_config(self):
        return {"hidden_dim": self.hidden_dim,
                "warmup_steps": self.warmup_steps, "scale": self.scale}


SCHEDULES = ("cosine", "linear", "constant", "inverse_sqrt")


def schedule(name, peak, total_steps, warmup_steps, final=0.0,
             decay_fraction=1.0, hidden_dim=None):
    """A schedule by flag name: "cosine", "linear", "constant" (all with
    warmup, see `WarmupDecay`) or "inverse_sqrt" (`InverseSquareRoot`,
    where `peak` is its scale)."""
    if name == "inverse_sqrt":
        return InverseSquareRoot(hidden_dim, warmup_steps, scale=peak)
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}; choose one of {SCHEDULES}.")
    return WarmupDecay(peak, total_steps, warmup_steps, name, final,
                       decay_fraction)
