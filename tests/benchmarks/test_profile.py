"""benchmarks.profile: how it groups the profiler's events (no profiling run
here; `python -m benchmarks.profile` itself takes a minute or more)."""

from tensorflow.tsl.profiler.protobuf import xplane_pb2

from benchmarks import profile


def test_op_kind_drops_the_instance_number_only():
    assert profile.op_kind("dot_add_fusion.3") == "dot_add_fusion"
    assert profile.op_kind("MatMul_1.17") == "MatMul_1"
    assert profile.op_kind("MatMul") == "MatMul"
    assert profile.op_kind("wrapped_reduce-window") == "wrapped_reduce-window"


def _space(events):
    """An XSpace with one plane and lines of (line name, event name, ps)."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    ids = {}
    lines = {}
    for line_name, name, picoseconds in events:
        if name not in ids:
            ids[name] = len(ids) + 1
            plane.event_metadata[ids[name]].name = name
        if line_name not in lines:
            lines[line_name] = plane.lines.add(name=line_name)
        lines[line_name].events.add(metadata_id=ids[name],
                                    duration_ps=picoseconds)
    return space


def test_op_times_sum_xla_ops_on_worker_threads_per_step():
    ms = 10**9  # picoseconds
    space = _space([
        ("tf_numa_-1_Eigen/1", "MatMul.1", 4 * ms),
        ("tf_numa_-1_Eigen/2", "MatMul.2", 2 * ms),
        ("tf_numa_-1_Eigen/1", "dot_add_fusion.7", 1 * ms),
        ("tf_numa_-1_Eigen/1", "end: MatMul.1", 5 * ms),  # a marker
        ("tf_numa_-1_Eigen/1", "ThunkExecutor::Execute", 9 * ms),  # wrapper
        ("tf_numa_-1_Eigen/2", "call.4", 1 * ms),  # contains dot_add_fusion.7
        ("python", "EagerExecute", 9 * ms),  # not an XLA worker thread
    ])
    assert profile.op_times(space, per=2) == {"MatMul": 3.0,
                                             "dot_add_fusion": 0.5}
