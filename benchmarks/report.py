"""`benchmarks.run`'s results as markdown: every setting, then each
library's best, per workload and Keras backend."""

import platform

from benchmarks.workloads import LIBRARIES
from benchmarks.workloads import PEERS
from benchmarks.workloads import WORKLOADS


def median_run(runs):
    """The run of median throughput (the lower one of an even count), with
    every run's throughput under "throughputs"; an error if none worked."""
    done = sorted((r for r in runs if "error" not in r),
                  key=lambda r: r["throughput"])
    if not done:
        return runs[0]
    median = dict(done[(len(done) - 1) // 2])
    if len(runs) > 1:
        median["throughputs"] = [r.get("throughput") for r in runs]
    return median


def number(value):
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1 else f"{value:.2g}"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _works(side):
    return "error" not in side


def _cells(r, libraries, peak_flops):
    """A row's cells after its settings: throughputs, zoo over each other
    library, MFU and peak memory."""
    w = WORKLOADS[r["workload"]]
    sides = {name: r.get(name, {"error": "not run"}) for name in libraries}
    cells = []
    for side in sides.values():
        error = side.get("error", "").replace("|", "/")
        cells.append(f"{number(side['throughput'])} {w.unit}"
                     if _works(side) else
                     "-" if error == "not run" else f"failed: {error}")
    zoo = sides["zoo"]
    for name in libraries[1:]:
        cells.append(
            f"{zoo['throughput'] / sides[name]['throughput']:.2f}x"
            if _works(zoo) and _works(sides[name]) else "-")
    cells.append(" / ".join(
        f"{side['flops_per_second'] / peak_flops:.0%}"
        if "flops_per_second" in side else "-" for side in sides.values()))
    cells.append(" / ".join(
        f"{side['peak_memory_mb']:,.0f}" if "peak_memory_mb" in side
        else "-" for side in sides.values()))
    return cells


def _settings(r, with_backend):
    cells = [r["workload"], r["dtype"], "on" if r["xla"] else "off"]
    return cells + ([r.get("backend", "tensorflow")] if with_backend else [])


def settings_table(results, libraries, peak, with_backend):
    """One line per row: each library's throughput, zoo over each other
    library, then MFU and peak memory of every library."""
    every = " / ".join(libraries)
    head = ["workload", "dtype", "XLA"] + (
        ["backend"] if with_backend else []) + libraries + [
        f"zoo / {name}" for name in libraries[1:]] + [
        f"MFU {every}", f"peak MB {every}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    peak_flops = max(peak.values())
    for r in results:
        cells = _settings(r, with_backend) + _cells(r, libraries, peak_flops)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def best_settings(results, libraries):
    """{(workload, backend, library): (throughput, "dtype, XLA on/off")}
    of each library's fastest setting."""
    best = {}
    for r in results:
        setting = f"{r['dtype']}, XLA {'on' if r['xla'] else 'off'}"
        for name in libraries:
            side = r.get(name, {"error": "not run"})
            key = (r["workload"], r.get("backend", "tensorflow"), name)
            if _works(side) and (key not in best
                                 or side["throughput"] > best[key][0]):
                best[key] = (side["throughput"], setting)
    return best


def best_table(results, libraries, with_backend):
    """Each library's best setting per workload and backend, and zoo's
    best over the best of the peers (keras-hub, PyTorch; zoo's own
    variants are not peers) on the same backend."""
    best = best_settings(results, libraries)
    head = ["workload"] + (["backend"] if with_backend else []) + [
        f"{name} best" for name in libraries] + ["zoo / best peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    keys = dict.fromkeys((r["workload"], r.get("backend", "tensorflow"))
                         for r in results)
    for name, backend in keys:
        unit = WORKLOADS[name].unit
        found = {library: best.get((name, backend, library))
                 for library in libraries}
        cells = [f"{number(b[0])} {unit} ({b[1]})" if b else "-"
                 for b in found.values()]
        peer_best = max((b[0] for library, b in found.items()
                         if library in PEERS and b), default=None)
        ratio = (f"{found['zoo'][0] / peer_best:.2f}x"
                 if found["zoo"] and peer_best else "-")
        head = [name] + ([backend] if with_backend else [])
        lines.append("| " + " | ".join(head + cells + [ratio]) + " |")
    return lines


def _notes(peak, libraries, with_backend):
    lines = [
        f"Matmul peak (2048 x 2048, TensorFlow, best with or without XLA): "
        f"float32 {peak['float32'] / 1e9:.0f} GFLOP/s, bfloat16 "
        f"{peak['bfloat16'] / 1e9:.0f} GFLOP/s; MFU is against the larger.",
    ]
    if with_backend:
        lines.append("XLA on is `jit_compile=True` on every Keras backend.")
    if "zoo-untuned" in libraries:
        lines.append("zoo-untuned is zoo with `ZOO_TUNING=off` (plain zoo "
                     "runs with the default, `auto`).")
    if "zoo-before" in libraries:
        lines.append("zoo-before is zoo at the `--before` checkout, on "
                     "TensorFlow only.")
    if "pytorch" in libraries:
        lines.append("For PyTorch, XLA on is `torch.compile` and "
                     "mixed_bfloat16 is `torch.autocast` to bfloat16"
                     + ("; it is measured on the tensorflow rows only."
                        if with_backend else "."))
    return lines


def markdown(results, peak):
    """The results as a markdown table (zoo against each other library
    measured), then the best setting of each library per workload (and
    backend). Rows saved before the backend column existed have no
    "backend" key; their tables have no backend column."""
    libraries = [name for name in LIBRARIES
                 if any(name in r for r in results)]
    with_backend = any("backend" in r for r in results)
    lines = settings_table(results, libraries, peak, with_backend)
    title = "Best setting of each library" + (
        ", per backend:" if with_backend else ":")
    lines += ["", title, ""]
    lines += best_table(results, libraries, with_backend)
    lines += [""] + _notes(peak, libraries, with_backend)
    return "\n".join(lines)
