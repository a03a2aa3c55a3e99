"""zoo.blocks.trace: records only inside `recording()`, the steps in order."""

import numpy as np
from harness import random_floats

from zoo.blocks import EncoderBlock
from zoo.blocks import trace


def test_nothing_is_recorded_outside_a_recording():
    trace.section("ignored")
    trace.record("ignored", np.zeros((1, 2)), "(B, D)")
    with trace.recording() as steps:
        pass
    assert steps == []


def test_a_block_records_its_steps_in_order():
    block = EncoderBlock(num_heads=2, intermediate_dim=16, name="block")
    x = random_floats((1, 5, 8))
    block(x)  # built, nothing recorded
    with trace.recording() as steps:
        block(x, padding_mask=np.ones((1, 5), "int32"),
              return_attention_scores=True)
    labels = [step.label for step in steps]
    assert {step.section for step in steps} == {"block"}
    assert labels.index("Q = X W_Q") < labels.index("Q Kᵀ") < labels.index(
        "P = softmax(...) over the keys") < labels.index("P V")
    ffn = next(s for s in steps
               if s.part == "feed_forward" and "W_1" in s.label)
    assert ffn.shape == (1, 5, 16)
    assert np.asarray(steps[-1].value).shape == (1, 5, 8)


def test_recordings_nest():
    with trace.recording() as outer:
        trace.record("a", np.zeros(1), "(D)")
        with trace.recording() as inner:
            trace.record("b", np.zeros(1), "(D)")
        trace.record("c", np.zeros(1), "(D)")
    assert [s.label for s in outer] == ["a", "c"]
    assert [s.label for s in inner] == ["b"]
