"""benchmarks.matmul: which products it times, its table, its refusals.

No speed is asserted; the workers run at a tiny budget on tiny sizes.
"""

import pytest
import pytorch_process as pt

from benchmarks import matmul
from benchmarks import workloads


def _flops(ps):
    return sum(p["count"] * 2 * p["m"] * p["k"] * p["n"] for p in ps)


@pytest.mark.parametrize("name", ["gpt_6l_384", "gpt2_small", "bert_base",
                                  "bert_base_infer", "transformer_base"])
def test_products_are_the_rows_dense_flops(name):
    """The products' FLOPs are benchmarks.run's FLOPs of the row without
    Q K^T, P V and the pooler; training runs three products per layer."""
    w = workloads.WORKLOADS[name]
    c, t = w.config, w.length
    d, layers = c["hidden_dim"], c["num_layers"]
    squares = {"gpt": 1, "bert": 1, "transformer": 3}[w.family] * layers
    dense = (workloads.forward_flops(w)
             - w.batch * squares * 2 * 2 * t * t * d)
    if w.family == "bert":
        dense -= w.batch * 2 * d * d  # the pooler, on one row a sequence
    ps = matmul.products(w)
    forward = [p for p in ps if p["name"].endswith("forward")]
    assert _flops(forward) == dense
    assert _flops(ps) == (3 if w.kind == "train" else 1) * dense
    for p in ps:  # stored shapes multiply as the name says
        a, b = matmul._shapes(p)
        inner_a = a[0] if p["transpose_a"] else a[1]
        inner_b = b[1] if p["transpose_b"] else b[0]
        assert inner_a == inner_b == p["k"]


def test_copies_make_small_products_worth_timing():
    big = dict(m=1024, k=768, n=50257)
    small = dict(m=8, k=8, n=8)
    assert matmul.copies(big) == 1
    assert matmul.copies(small) == matmul.MAX_COPIES
    assert matmul.copies(dict(m=1024, k=512, n=512)) == 4


def test_table_gives_rates_ratios_and_step_seconds():
    w = workloads.Workload("tiny", "infer", "bert", dict(
        hidden_dim=4, intermediate_dim=8, num_layers=1), 1, 2)
    ps = matmul.products(w)
    assert [p["name"] for p in ps] == ["4x4 forward", "4x8 forward",
                                       "8x4 forward"]
    flops = [2 * p["m"] * p["k"] * p["n"] for p in ps]
    seconds = {"xla": [f / 1e9 for f in flops],  # 1 GFLOP/s
               "pytorch": [f / 2e9 for f in flops]}  # 2 GFLOP/s
    lines = matmul.markdown(w, seconds).splitlines()
    assert lines[0] == ("| product | M x K x N | per step | XLA GFLOP/s | "
                        "PyTorch GFLOP/s | XLA / PyTorch |")
    assert lines[2] == "| 4x4 forward | 2 x 4 x 4 | 4 | 1 | 2 | 0.50x |"
    step = (4 * flops[0] + flops[1] + flops[2]) / 1e9
    assert lines[-1] == (f"| **a step** |  |  | {step:.3g} s | "
                         f"{step / 2:.3g} s | 0.50x |")


def test_workers_time_every_product(monkeypatch):
    tiny = workloads.Workload("tiny", "train", "gpt", dict(
        hidden_dim=8, intermediate_dim=16, num_layers=1,
        vocabulary_size=5), 2, 4)
    monkeypatch.setitem(workloads.WORKLOADS, "tiny", tiny)
    monkeypatch.setattr(matmul, "MAX_COPIES", 2)
    for library in ("xla", "tensorflow"):
        for dtype in matmul.DTYPES:
            seconds = matmul.worker(library, "tiny", 0.0, dtype)
            assert len(seconds) == len(matmul.products(tiny)) == 12
            assert all(s > 0 for s in seconds)


def test_bfloat16_operands_are_bfloat16(monkeypatch):
    import tensorflow as tf

    made = []
    real_normal = tf.random.normal
    monkeypatch.setattr(tf.random, "normal", lambda shape, dtype: made.append(
        dtype) or real_normal(shape, dtype=dtype))
    product = matmul.products(workloads.WORKLOADS["bert_base_infer"])[0]
    matmul._tensorflow_call(product, False, "bfloat16")()
    assert made and set(made) == {"bfloat16"}
    pt.require()
    assert pt.call(_pytorch_result_dtype, product) == "torch.bfloat16"


def _pytorch_result_dtype(product):
    return str(matmul._pytorch_call(product, "bfloat16")()[0].dtype)


def test_bad_arguments_are_refused(monkeypatch, capsys):
    monkeypatch.setattr(matmul, "measure", lambda *args: pytest.fail(
        "a refused run must not measure anything"))
    for argv in (["--libraries", "xla"],
                 ["--workload", "generate_gpt_nano_b1"],
                 ["--workload", "bert_base", "--libraries", "xla,jax"],
                 ["--workload", "bert_base", "--libraries", "xla,xla"],
                 ["--workload", "bert_base", "--dtype", "float16"]):
        with pytest.raises(SystemExit):
            matmul.main(argv)
    real_find_spec = matmul.importlib.util.find_spec
    monkeypatch.setattr(matmul.importlib.util, "find_spec", lambda name: (
        None if name == "torch" else real_find_spec(name)))
    with pytest.raises(SystemExit):
        matmul.main(["--workload", "bert_base"])
    assert 'pip install -e ".[pytorch]"' in capsys.readouterr().err


def test_a_measurement_runs_in_its_own_process():
    seconds = matmul.measure("tensorflow", "bert_base_infer", budget=0.0)
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
