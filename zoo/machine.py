"""What this machine is, and the precision and compilation that train
fastest on it: `--precision=auto` and `--xla=auto`.

    from zoo import machine
    choice = machine.use()      # sets Keras' dtype policy
    print(choice.line())        # Precision float32, XLA on: ...
    task.compile(..., jit_compile=choice.xla)

`choose` decides from five facts: the Keras backend, the accelerator
(`accelerator()`: a GPU and its CUDA compute capability, a TPU, or
none), the CPU's bfloat16 units (`cpu_flags()`: `avx512_bf16`,
`amx_bf16` in `/proc/cpuinfo`), the model's width (d_model), and whether
the batches have one shape (a recipe whose batches are as long as their
longest example makes XLA compile every shape anew). Tests replace the
two queries.

The rules, and what they rest on (the measurements are in
docs/benchmarks.md, "What auto chooses"):

- TensorFlow on a CPU with bfloat16 units: a model at least
  `BFLOAT16_FROM_WIDTH` wide in `mixed_bfloat16` without XLA; a narrower
  one (or one of unknown width) in float32 with XLA. Measured.
- TensorFlow on a CPU without them: float32 with XLA. Measured on the
  float32 rows of a CPU with them and of one without (an AVX2 EPYC),
  where XLA was the faster on every row.
- On TensorFlow, batches of many shapes turn XLA off.
- JAX on a CPU: float32 under `jax.jit` (Keras runs JAX op by op without
  it, for any shape).
- PyTorch: float32, not compiled (Keras' `torch.compile` path is not
  measured here).
- A GPU with compute capability 8.0 or more (Ampere and later have
  bfloat16 tensor cores, NVIDIA's specifications): `mixed_bfloat16`; an
  older GPU float32. XLA as on the CPU. A TPU: `mixed_bfloat16`, XLA
  on. Neither is measured here: the line printed says so.

An explicit precision or XLA setting always wins; `auto` decides only
what was left to it.
"""

import dataclasses

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# The CPU flags (Linux /proc/cpuinfo names) of bfloat16 arithmetic units:
# AVX-512 BF16 (dot products of bfloat16 pairs) and AMX (tile products).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
FIRST_BFLOAT16_GPU = (8, 0)  # Ampere: bfloat16 tensor cores


@dataclasses.dataclass(frozen=True)
class Machine:
    """The facts `choose` decides from."""

    backend: str  # "tensorflow", "jax" or "torch"
    accelerator: str = "cpu"  # "cpu", "gpu" or "tpu"
    gpu_capability: tuple = None  # (major, minor), a GPU's only
    cpu_flags: frozenset = frozenset()

    def bfloat16_units(self):
        """The CPU's bfloat16 flags, e.g. ["avx512_bf16"]; [] if none."""
        return [flag for flag in BFLOAT16_FLAGS if flag in self.cpu_flags]

    def describe(self):
        """`TensorFlow on a CPU with bfloat16 units (avx512_bf16)`."""
        backend = {"tensorflow": "TensorFlow", "jax": "JAX",
                   "torch": "PyTorch"}.get(self.backend, self.backend)
        if self.accelerator == "gpu":
            capability = ".".join(map(str, self.gpu_capability or ("?",)))
            return f"{backend} on a GPU of compute capability {capability}"
        if self.accelerator == "tpu":
            return f"{backend} on a TPU"
        units = self.bfloat16_units()
        return (f"{backend} on a CPU with bfloat16 units ({', '.join(units)})"
                if units else f"{backend} on a CPU without bfloat16 units")


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags as Linux lists them (x86 `flags`, Arm
    `Features`); empty where there is no such file (macOS, Windows)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            for line in file:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def accelerator(backend):
    """("gpu", (major, minor)), ("tpu", None) or ("cpu", None): the first
    accelerator the backend sees."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return "gpu", details.get("compute_capability")
        if tf.config.list_physical_devices("TPU"):
            return "tpu", None
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform == "gpu":
            capability = getattr(device, "compute_capability", None)
            return "gpu", (tuple(int(part) for part in capability.split("."))
                           if capability else None)
        if device.platform == "tpu":
            return "tpu", None
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return "gpu", tuple(torch.cuda.get_device_capability(0))
    return "cpu", None


def this_machine():
    """The `Machine` this process runs on, under Keras' backend."""
    import keras

    backend = keras.backend.backend()
    kind, capability = accelerator(backend)
    return Machine(backend, kind, capability, cpu_flags())


# TensorFlow on a CPU with bfloat16 units: a model at least this wide
# (d_model) trains fastest in mixed_bfloat16 without XLA (oneDNN's
# bfloat16 kernels; XLA:CPU does not use them), a narrower one in float32
# with XLA (docs/benchmarks.md, "What auto chooses").
BFLOAT16_FROM_WIDTH = 384


@dataclasses.dataclass(frozen=True)
class Choice:
    """What `choose` decided, and why."""

    precision: str
    xla: bool
    why: str

    def line(self):
        """`Precision float32, XLA on: auto for TensorFlow on a CPU ...`."""
        return (f"Precision {self.precision}, XLA {'on' if self.xla else 'off'}"
                f": {self.why}.")


def choose(precision="auto", xla="auto", machine=None, fixed_shapes=True,
           width=None):
    """The precision and compilation to train with.

    Args:
        precision: "auto", "float32" or "mixed_bfloat16".
        xla: "auto", True or False.
        machine: a `Machine`; None reads this one.
        fixed_shapes: whether every batch has the same shape; if not,
            `auto` leaves XLA off where it compiles each shape (TensorFlow).
        width: the model's hidden width (d_model), or None if unknown.

    Returns:
        A `Choice`: `precision` (a Keras dtype policy name), `xla` (bool,
        `compile(jit_compile=...)`) and `why`.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if xla not in ("auto", True, False):
        raise ValueError(f"xla must be 'auto', True or False; got {xla!r}.")
    if precision != "auto" and xla != "auto":
        return Choice(precision, xla, "as given")
    machine = machine or this_machine()
    auto_precision, auto_xla, reason = _fastest(machine, fixed_shapes, width)
    given = [name for name, value in (("precision", precision), ("XLA", xla))
             if value != "auto"]
    why = f"auto for {machine.describe()}{reason}"
    if given:
        why += f"; {' and '.join(given)} as given"
    return Choice(auto_precision if precision == "auto" else precision,
                  auto_xla if xla == "auto" else xla, why)


def _fastest(machine, fixed_shapes, width):
    """(precision, xla, words after the machine's description)."""
    if machine.accelerator in ("gpu", "tpu"):
        bfloat16 = machine.accelerator == "tpu" or (
            machine.gpu_capability is not None
            and tuple(machine.gpu_capability) >= FIRST_BFLOAT16_GPU)
        return ("mixed_bfloat16" if bfloat16 else "float32",
                machine.backend == "jax" or (
                    fixed_shapes and machine.backend == "tensorflow"),
                " (from the vendor's specifications; not measured here)")
    if machine.backend == "torch":
        return "float32", False, " (not measured here)"
    if machine.backend == "jax":
        return "float32", True, ""  # without jax.jit, op by op
    reason = ""
    if machine.bfloat16_units():
        if width is not None and width >= BFLOAT16_FROM_WIDTH:
            return "mixed_bfloat16", False, (
                f"; width {width} >= {BFLOAT16_FROM_WIDTH}: oneDNN's "
                "bfloat16 kernels, which XLA does not use")
        reason = ("; the model's width unknown" if width is None
                  else f"; width {width} < {BFLOAT16_FROM_WIDTH}")
    if not fixed_shapes:
        return "float32", False, (
            reason + "; XLA off: batches of many shapes, each a new compile")
    return "float32", True, reason


def use(precision="auto", xla="auto", machine=None, fixed_shapes=True,
        width=None):
    """`choose`, then set Keras' global dtype policy to its precision;
    returns the `Choice`."""
    import keras

    choice = choose(precision, xla, machine, fixed_shapes, width)
    keras.mixed_precision.set_global_policy(choice.precision)
    return choice

