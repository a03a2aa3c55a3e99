"""zoo.machine: `--precision=auto` and `--xla=auto`, on machines made up
by mocking the device and CPU-feature queries."""

import keras
import pytest

from zoo import machine
from zoo.machine import Machine

AVX512_BF16 = frozenset({"fpu", "avx2", "avx512f", "avx512_bf16", "fma"})
AMX = frozenset({"avx2", "avx512f", "amx_tile", "amx_bf16"})
NO_BF16 = frozenset({"fpu", "avx2", "fma"})  # an AVX2 CPU: Zen 3, say
AVX512_NO_BF16 = frozenset({"avx2", "avx512f", "avx512_vnni"})


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: AMD EPYC\n"
                   "flags\t\t: fpu avx2 avx512f avx512_bf16\n\n"
                   "processor\t: 1\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n")
    assert machine.cpu_flags(str(x86)) == {"fpu", "avx2", "avx512f",
                                           "avx512_bf16"}
    assert "bf16" in machine.cpu_flags(str(arm))
    assert machine.cpu_flags(str(tmp_path / "missing")) == frozenset()


@pytest.mark.parametrize("flags,units", [
    (AVX512_BF16, ["avx512_bf16"]), (AMX, ["amx_bf16"]), (NO_BF16, []),
    (AVX512_NO_BF16, []), (frozenset(), [])])
def test_bfloat16_units(flags, units):
    assert Machine("tensorflow", cpu_flags=flags).bfloat16_units() == units


def test_this_machine_asks_the_backend_and_the_cpu(monkeypatch):
    asked = []
    monkeypatch.setattr(machine, "accelerator",
                        lambda backend: asked.append(backend) or ("gpu",
                                                                  (9, 0)))
    monkeypatch.setattr(machine, "cpu_flags", lambda: NO_BF16)
    found = machine.this_machine()
    assert asked == [keras.backend.backend()]
    assert found == Machine(keras.backend.backend(), "gpu", (9, 0), NO_BF16)


def test_this_process_accelerator_is_the_cpu():
    # The test machines have no GPU; the real query must say so.
    assert machine.accelerator(keras.backend.backend()) == ("cpu", None)


def choose(backend="tensorflow", flags=NO_BF16, accelerator="cpu",
           capability=None, **options):
    return machine.choose(machine=Machine(backend, accelerator, capability,
                                          flags), **options)


def test_no_bfloat16_units_means_float32_with_xla():
    for flags in (NO_BF16, AVX512_NO_BF16, frozenset()):
        for backend in ("tensorflow", "jax"):
            choice = choose(backend, flags)
            assert (choice.precision, choice.xla) == ("float32", True)
            assert "without bfloat16 units" in choice.why


def test_tensorflow_with_bfloat16_units_decides_by_width():
    for flags in (AVX512_BF16, AMX):
        for width in (768, machine.BFLOAT16_FROM_WIDTH):
            wide = choose("tensorflow", flags, width=width)
            assert (wide.precision, wide.xla) == ("mixed_bfloat16", False)
            assert f"width {width}" in wide.why
            varied = choose("tensorflow", flags, width=width,
                            fixed_shapes=False)
            assert (varied.precision, varied.xla) == ("mixed_bfloat16",
                                                      False)
        narrow = choose("tensorflow", flags,
                        width=machine.BFLOAT16_FROM_WIDTH - 1)
        assert (narrow.precision, narrow.xla) == ("float32", True)
        unknown = choose("tensorflow", flags)
        assert (unknown.precision, unknown.xla) == ("float32", True)
        assert "width unknown" in unknown.why
        # JAX's XLA:CPU: float32, however wide.
        assert choose("jax", flags, width=4096).precision == "float32"
    # Without the units, width does not matter.
    for flags in (NO_BF16, AVX512_NO_BF16):
        assert choose("tensorflow", flags, width=4096).precision == "float32"


def test_many_shapes_turn_xla_off_on_tensorflow_only():
    for flags in (NO_BF16, AVX512_BF16):
        assert choose("tensorflow", flags, fixed_shapes=False).xla is False
        assert "many shapes" in choose("tensorflow", flags,
                                       fixed_shapes=False).why
        # JAX without jax.jit runs op by op, whatever the shapes.
        assert choose("jax", flags, fixed_shapes=False).xla is True


def test_gpus_by_compute_capability():
    for backend in ("tensorflow", "jax", "torch"):
        ampere = choose(backend, NO_BF16, "gpu", (8, 0))
        volta = choose(backend, AVX512_BF16, "gpu", (7, 0))
        assert ampere.precision == "mixed_bfloat16"
        assert volta.precision == "float32"  # the CPU's units do not count
        assert "not measured here" in ampere.why
    assert choose("tensorflow", NO_BF16, "gpu", (9, 0)).xla is True
    assert choose("tensorflow", NO_BF16, "gpu", (9, 0),
                  fixed_shapes=False).xla is False
    assert choose("torch", NO_BF16, "gpu", (9, 0)).xla is False
    unknown = choose("tensorflow", NO_BF16, "gpu", None)
    assert unknown.precision == "float32"
    tpu = choose("jax", NO_BF16, "tpu")
    assert (tpu.precision, tpu.xla) == ("mixed_bfloat16", True)


def test_torch_on_a_cpu_is_float32_uncompiled():
    for flags in (NO_BF16, AVX512_BF16):
        choice = choose("torch", flags)
        assert (choice.precision, choice.xla) == ("float32", False)
        assert "not measured here" in choice.why


def test_explicit_values_win():
    for flags in (NO_BF16, AVX512_BF16, AMX):
        given = choose("tensorflow", flags, precision="mixed_bfloat16",
                       xla=False)
        assert (given.precision, given.xla, given.why) == (
            "mixed_bfloat16", False, "as given")
        half = choose("tensorflow", flags, precision="float32")
        assert half.precision == "float32"
        assert "precision as given" in half.why
        assert half.xla == choose("tensorflow", flags).xla
        other = choose("tensorflow", flags, xla=False)
        assert other.xla is False
        assert other.precision == choose("tensorflow", flags).precision


def test_explicit_values_need_no_machine(monkeypatch):
    monkeypatch.setattr(machine, "this_machine", lambda: pytest.fail(
        "the machine was queried"))
    choice = machine.choose("float32", True)
    assert (choice.precision, choice.xla) == ("float32", True)


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        machine.choose("bfloat16", True)
    with pytest.raises(ValueError, match="xla must be"):
        machine.choose("float32", "yes")


def test_the_line_says_the_choice_and_why():
    line = choose("tensorflow", AVX512_BF16).line()
    assert line.startswith("Precision ")
    assert ", XLA o" in line
    assert "TensorFlow on a CPU with bfloat16 units (avx512_bf16)" in line


def test_use_sets_the_global_policy(monkeypatch):
    monkeypatch.setattr(machine, "this_machine",
                        lambda: Machine(keras.backend.backend(), "gpu",
                                        (8, 6), NO_BF16))
    before = keras.mixed_precision.global_policy().name
    try:
        choice = machine.use()
        assert choice.precision == "mixed_bfloat16"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        machine.use("float32")
        assert keras.mixed_precision.global_policy().name == "float32"
    finally:
        keras.mixed_precision.set_global_policy(before)
