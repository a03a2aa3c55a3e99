"""`python -m zoo.show example`: one attention head on a four-word
sentence, every number printed, to check by hand.

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V  (Vaswani et al., eq. 1)

The results of each step (Q Kᵀ, the scaling, the mask, the softmax, P V)
are those of `MultiHeadAttention.attend`, the function every block's
attention runs, on its written-out path, read from `zoo.blocks.trace`.
The sums and exponentials printed beside them redo the same arithmetic in
plain Python for the reader.
"""

import math

import numpy as np
from keras import ops

from zoo.blocks import trace
from zoo.blocks.attention import MultiHeadAttention
from zoo.blocks.masks import causal_attention_mask

WORDS = ["the", "cat", "sat", "down"]
# One row per word, d_k = 4. The first query and the keys are the ones of
# the walk-through (q·k = 0.70, 0.80, 0.90, 1.00); each further row adds
# 0.1 to every number.
QUERIES = [[0.1, 0.2, 0.3, 0.4], [0.2, 0.3, 0.4, 0.5],
           [0.3, 0.4, 0.5, 0.6], [0.4, 0.5, 0.6, 0.7]]
KEYS = [[0.5, 0.6, 0.7, 0.8], [0.6, 0.7, 0.8, 0.9],
        [0.7, 0.8, 0.9, 1.0], [0.8, 0.9, 1.0, 1.1]]
# Chosen so that every output number is the sum of two weights:
# out = [w1 + w3, w2 + w3, w1 + w4, w2 + w4].
VALUES = [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0],
          [1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]


def compute(causal=False):
    """Run one head of `MultiHeadAttention.attend` on the example, recording.

    Returns:
        dict of NumPy arrays: `dot_products` Q Kᵀ (T, S), `scores` Q Kᵀ /
        √d_k (T, S), `masked` (with `causal`: the scores with -1e9 where a
        key comes after the query), `weights` P (T, S) and `output` P V
        (T, d_k); T = S = 4, d_k = 4.
    """
    layer = MultiHeadAttention(num_heads=1, head_dim=4)
    layer.build((1, 4, 4))  # (its dropout; attend uses no weights)

    def heads(rows):  # (T, H) -> (B, T, N, H) = (1, 4, 1, 4)
        return ops.convert_to_tensor(np.asarray(rows, "float32")[None, :, None])

    with trace.recording() as steps:
        mask = None
        if causal:
            mask = causal_attention_mask(4, 4)[:, None]  # (1, 1, T, S)
        output, weights = layer.attend(
            heads(QUERIES), heads(KEYS), heads(VALUES), mask, causal,
            training=False, return_attention_scores=True)
    recorded = {step.label: ops.convert_to_numpy(step.value) for step in steps}
    results = {
        "dot_products": recorded["Q Kᵀ"][0, 0],  # (T, S) of head 0
        "scores": recorded["Q Kᵀ / √d_k"][0, 0],
        "weights": ops.convert_to_numpy(weights)[0, 0],
        "output": ops.convert_to_numpy(output)[0, :, 0],  # (T, H)
    }
    if causal:
        results["masked"] = recorded["masked keys: −1e9 (≈ −∞)"][0, 0]
    return results


def number(x, digits=4):
    return f"{x:.{digits}f}"


def vector(values, digits=2):
    return "[" + ", ".join(number(v, digits) for v in values) + "]"


def matrix(name, rows, digits=4, columns=WORDS):
    """A (4, 4) array as a table with the words on both sides."""
    cell = digits + 4
    lines = [f"{name}:", " " * 8 + "".join(w.rjust(cell) for w in columns)]
    for word, row in zip(WORDS, rows):
        cells = (("−∞" if v <= -1e8 else number(v, digits)).rjust(cell)
                 for v in row)
        lines.append(f"  {word:<6}" + "".join(cells))
    return lines


def one_query(results):
    """The first word's query against the four keys, step by step."""
    q = QUERIES[0]
    scale = math.sqrt(len(q))
    dots, scores = results["dot_products"][0], results["scores"][0]
    weights, output = results["weights"][0], results["output"][0]
    lines = [
        f'The query of "{WORDS[0]}": q = {vector(q, 1)}',
        *(f"  key k{j + 1} {quoted:<9}= {vector(k, 1)}    value v{j + 1} = "
          f"{vector(v, 0)}" for j, (quoted, k, v) in enumerate(
              zip((f'("{w}")' for w in WORDS), KEYS, VALUES))),
        "(The values are made up so that each output number is a sum of "
        "two weights.)",
        "",
        "1. Dot products q·k_j, how well each key matches the query:",
    ]
    for j, k in enumerate(KEYS):
        terms = " + ".join(f"{a:.1f}×{b:.1f}" for a, b in zip(q, k))
        products = " + ".join(f"{a * b:.2f}" for a, b in zip(q, k))
        lines.append(f"   q·k{j + 1} = {terms} = {products} = "
                     f"{number(dots[j], 2)}")
    lines += ["", f"2. Scaled by √d_k = √{len(q)} = {scale:g}, so that long "
              "vectors do not push the softmax to 0 and 1:"]
    lines += [f"   s{j + 1} = {number(dots[j], 2)} / {scale:g} = "
              f"{number(scores[j], 2)}" for j in range(len(KEYS))]
    exps = [math.exp(s) for s in scores]
    total = sum(exps)
    lines += ["", "3. Softmax, weights that are positive and sum to 1: "
              "w_j = exp(s_j) / Σ_i exp(s_i)"]
    lines += [f"   exp(s{j + 1}) = exp({number(scores[j], 2)}) = "
              f"{number(e)}" for j, e in enumerate(exps)]
    lines.append(f"   Σ = {' + '.join(number(e) for e in exps)} = "
                 f"{number(total)}")
    lines += [f"   w{j + 1} = {number(exps[j])} / {number(total)} = "
              f"{number(weights[j])}" for j in range(len(KEYS))]
    lines.append(f"   w1 + w2 + w3 + w4 = {number(sum(weights))}")
    lines += ["", "4. The output is the weighted sum of the values, "
              "Σ_j w_j v_j:"]
    terms = " + ".join(f"{number(w)}×{vector(v, 0)}"
                       for w, v in zip(weights, VALUES))
    sums = ", ".join(f"{number(weights[a])} + {number(weights[b])}"
                     for a, b in ((0, 2), (1, 2), (0, 3), (1, 3)))
    lines += [f"   {terms}",
              f"   = [w1 + w3, w2 + w3, w1 + w4, w2 + w4] = [{sums}]",
              f"   = {vector(output, 4)}"]
    return lines


def describe(causal=False):
    """The printout of `python -m zoo.show example [--causal]`."""
    results = compute(causal=False)
    lines = [
        f'One attention head (d_k = 4) on the sentence "{" ".join(WORDS)}": '
        "Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V",
        "(Vaswani et al. 2017, eq. 1). The results of each step are "
        "computed by zoo.blocks.MultiHeadAttention.attend.",
        "",
        *one_query(results),
        "",
        "All four words at once: the same steps as matrices, one row per "
        "query, one column per key.",
    ]
    if causal:
        results = compute(causal=True)
    lines += [*matrix("Q", QUERIES, 1, ["d1", "d2", "d3", "d4"]),
              *matrix("K", KEYS, 1, ["d1", "d2", "d3", "d4"]),
              *matrix("V", VALUES, 1, ["d1", "d2", "d3", "d4"]),
              *matrix("Q Kᵀ", results["dot_products"], 2),
              *matrix("Q Kᵀ / √d_k", results["scores"], 2)]
    if causal:
        lines += ["Causal mask (a decoder): a word sees itself and the "
                  "words before it; later keys get −∞ (−1e9),",
                  "so exp() gives them weight 0.",
                  *matrix("masked", results["masked"], 2)]
    lines += [*matrix("P = softmax(...) (each row sums to 1)",
                      results["weights"]),
              *matrix("P V", results["output"], 4,
                      ["d1", "d2", "d3", "d4"])]
    if not causal:
        lines += ["", "(--causal shows the same with a decoder's causal "
                  "mask.)"]
    return "\n".join(lines)
