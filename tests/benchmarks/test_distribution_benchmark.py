"""benchmarks.distribution: the bytes it reads from a compiled step, and
its paper estimate. (The measurement itself takes minutes; nothing here
asserts a speed.)"""

from benchmarks import distribution
from zoo.models import GPTDecoder

HLO = """
  %p = f32[65,128]{1,0} parameter(0)
  %all-reduce.1 = f32[65,128]{1,0} all-reduce(f32[65,128]{1,0} %p), to_apply=%sum
  %start = (f32[4]{0}, bf16[2,3]{1,0}) all-reduce-start(f32[4]{0} %a, bf16[2,3]{1,0} %b)
  %done = (f32[4]{0}, bf16[2,3]{1,0}) all-reduce-done(%start)
  %all-gather.2 = f32[8,16]{1,0} all-gather(f32[4,16]{1,0} %y), dimensions={0}
  %add = f32[8]{0} add(f32[8]{0} %u, f32[8]{0} %v)
"""


def test_collective_bytes_sums_the_results_of_collective_ops():
    """The result shapes of all-reduce (once for an asynchronous pair) and
    all-gather; not the parameter, not the add."""
    assert distribution.collective_bytes(HLO) == (
        65 * 128 * 4 + (4 * 4 + 2 * 3 * 2) + 8 * 16 * 4)


def test_the_paper_estimate_uses_each_models_gradient_bytes(capsys):
    distribution.estimate()
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| gpt2_")]
    assert len(rows) == len(distribution.BANDWIDTH)
    gradient_mb = 4 * GPTDecoder.count_preset_params("gpt2_small") / 1e6
    assert f"| {gradient_mb:.0f} MB |" in rows[0]
    # A ring over more devices moves more of the bytes per device, over a
    # slower link: the estimated all-reduce time grows.
    times = [float(row.split("|")[7].split()[0]) for row in rows]
    assert times == sorted(times) and times[0] < times[-1]
