"""Cached, compiled generation equals the slow, obvious computation."""

import keras
import keras_hub
import numpy as np
import pytest

from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.tasks import Seq2SeqLM

PROMPTS = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]  # different lengths


def _full_pass_greedy(lm, prompt, new_tokens, stop=None):
    """Append the argmax of a full forward pass, one token at a time."""
    ids = list(prompt)
    for _ in range(new_tokens):
        x = {"token_ids": np.array([ids]), "padding_mask": np.ones((1, len(ids)))}
        ids.append(int(np.argmax(lm(x)[0, -1])))
        if ids[-1] == stop:
            break
    return ids


def _full_pass_translation(lm, source, new_tokens, start=1, stop=2):
    """The same for a translator, which never generates its start token."""
    target = [start]
    for _ in range(new_tokens):
        x = {"encoder_token_ids": np.array([source]),
             "encoder_padding_mask": np.ones((1, len(source))),
             "decoder_token_ids": np.array([target]),
             "decoder_padding_mask": np.ones((1, len(target)))}
        logits = np.array(lm(x)[0, -1])
        logits[start] = -np.inf
        target.append(int(np.argmax(logits)))
        if target[-1] == stop:
            break
    return target[1:]


def test_greedy_is_the_argmax_of_full_passes(gpt):
    lm = CausalLM(gpt)
    generated = lm.generate(PROMPTS, max_new_tokens=12, stop_token_ids=None)
    assert generated == [_full_pass_greedy(lm, p, 12) for p in PROMPTS]


def test_greedy_without_xla_is_the_same(gpt):
    compiled = CausalLM(gpt).generate(PROMPTS, max_new_tokens=6)
    plain = CausalLM(gpt, jit_compile_generate=False).generate(
        PROMPTS, max_new_tokens=6)
    assert compiled == plain


def test_beam_of_width_one_is_greedy(gpt, transformer):
    lm = CausalLM(gpt)
    greedy = lm.generate(PROMPTS, max_new_tokens=10, stop_token_ids=None)
    assert lm.generate(PROMPTS, max_new_tokens=10, sampler="beam",
                       num_beams=1, stop_token_ids=None) == greedy

    translator = Seq2SeqLM(transformer)
    args = dict(max_new_tokens=10, start_token_id=1, stop_token_ids=[2])
    assert (translator.generate(PROMPTS, sampler="beam", num_beams=1, **args)
            == translator.generate(PROMPTS, **args))


def test_seq2seq_greedy_is_the_argmax_of_full_passes(transformer):
    lm = Seq2SeqLM(transformer)
    generated = lm.generate(PROMPTS, max_new_tokens=8, start_token_id=1,
                            stop_token_ids=[2])
    assert generated == [_full_pass_translation(lm, s, 8) for s in PROMPTS]


def test_a_translator_never_generates_its_start_token(transformer):
    """MarianMT starts from its padding token; a bias that favours it
    must not make it an output, with any sampler."""
    lm = Seq2SeqLM(transformer, final_logits_bias=True)
    bias = np.zeros(transformer.vocabulary_size, "float32")
    bias[[1, 3]] = [100.0, 50.0]  # the start token, then token 3
    lm.final_logits_bias.assign(bias)
    args = dict(max_new_tokens=4, start_token_id=1, stop_token_ids=None)
    for sampler in ("greedy", "beam", "random"):
        rows = lm.generate(PROMPTS, sampler=sampler, **args)
        assert all(1 not in row for row in rows), sampler
    assert lm.generate(PROMPTS, **args) == [[3] * 4] * len(PROMPTS)
    # A start token that is also the end token (a character tokenizer's)
    # must stay possible, or no row could stop.
    assert lm.generate(PROMPTS, max_new_tokens=4, start_token_id=1,
                       stop_token_ids=[1]) == [[1]] * len(PROMPTS)


def _sequence_log_prob(lm, source, target, start=1):
    """log P(target | source), from one full forward pass."""
    decoder_ids = [start] + target[:-1]
    x = {"encoder_token_ids": np.array([source]),
         "encoder_padding_mask": np.ones((1, len(source))),
         "decoder_token_ids": np.array([decoder_ids]),
         "decoder_padding_mask": np.ones((1, len(decoder_ids)))}
    logits = np.asarray(lm(x)[0], "float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return sum(log_probs[t, token] for t, token in enumerate(target))


def test_beam_search_finds_better_scored_translations(transformer):
    """With 4 beams, a stop token and alpha = 0.6, every row's translation
    scores log P / lp at least as well as greedy's, recomputed from full
    forward passes. (Not a theorem of beam search, which may prune the
    greedy path; a check of the bookkeeping on this fixed model.)"""
    lm = Seq2SeqLM(transformer)
    free = lm.generate(PROMPTS, max_new_tokens=6, start_token_id=1,
                       stop_token_ids=None)
    stop = free[0][2]
    args = dict(max_new_tokens=6, start_token_id=1, stop_token_ids=[stop])
    greedy = lm.generate(PROMPTS, **args)
    beam = lm.generate(PROMPTS, sampler="beam", num_beams=4,
                       length_penalty=0.6, **args)

    def score(source, target):
        penalty = ((5 + len(target)) / 6) ** 0.6
        return _sequence_log_prob(lm, source, target) / penalty

    assert any(stop in row for row in beam)
    for source, g, b in zip(PROMPTS, greedy, beam):
        assert b[-1] == stop or len(b) == 6
        assert score(source, b) >= score(source, g) - 1e-5


def test_the_encoder_runs_once(transformer, monkeypatch):
    lm = Seq2SeqLM(transformer)
    calls = []
    encode = transformer.encode
    monkeypatch.setattr(transformer, "encode",
                        lambda *a, **k: calls.append(1) or encode(*a, **k))
    lm.generate(PROMPTS, max_new_tokens=5, start_token_id=1,
                sampler="beam", num_beams=2)
    assert len(calls) == 1  # traced once, outside the decoding loop


def test_each_row_stops_at_its_own_stop_token(gpt):
    lm = CausalLM(gpt)
    free = lm.generate(PROMPTS, max_new_tokens=12, stop_token_ids=None)
    stop = free[1][len(PROMPTS[1]) + 2]  # the third new token of row 1
    stopped = lm.generate(PROMPTS, max_new_tokens=12, stop_token_ids=[stop])
    for prompt, full, row in zip(PROMPTS, free, stopped):
        new = full[len(prompt):]
        end = new.index(stop) + 1 if stop in new else len(new)
        assert row == prompt + new[:end]
    assert len(stopped[1]) <= len(PROMPTS[1]) + 3  # stopped early
    assert any(len(row) == len(full) for row, full in zip(stopped, free))


def test_padded_dict_inputs_give_the_same_tokens(gpt):
    lm = CausalLM(gpt)
    as_lists = lm.generate(PROMPTS, max_new_tokens=4)
    ids = np.zeros((3, 5), "int32")
    mask = np.zeros((3, 5), bool)
    for i, p in enumerate(PROMPTS):
        ids[i, : len(p)], mask[i, : len(p)] = p, True
    out = lm.generate({"token_ids": ids, "padding_mask": mask},
                      max_new_tokens=4)
    assert out["token_ids"].shape == (3, 32)  # 5 + 4, rounded up to 32
    assert [row[m].tolist() for row, m in
            zip(out["token_ids"], out["padding_mask"])] == as_lists


def test_no_retrace_on_a_second_call(gpt):
    lm = CausalLM(gpt)
    lm.generate(PROMPTS, max_new_tokens=5, sampler="top_k", top_k=3, seed=1)
    compiled = 0 if keras.backend.backend() == "torch" else 1  # torch: eager
    assert lm.generator.tracing_count() == compiled
    lm.generate(PROMPTS, max_new_tokens=5, sampler="top_p", top_k=4, seed=2,
                temperature=0.5, top_p=0.9)
    # Other prompts of similar lengths share the program too.
    lm.generate([[3, 4, 5], [6, 7, 8, 9, 10, 11], [12, 13]], max_new_tokens=7,
                sampler="random")
    assert lm.generator.tracing_count() == compiled


@pytest.mark.parametrize("sampler", ["random", "top_k", "top_p"])
def test_a_seed_reproduces_sampling(gpt, sampler):
    lm = CausalLM(gpt)
    args = dict(max_new_tokens=10, sampler=sampler, top_k=5, top_p=0.9,
                stop_token_ids=None)
    first = lm.generate(PROMPTS, seed=7, **args)
    assert lm.generate(PROMPTS, seed=7, **args) == first
    assert lm.generate(PROMPTS, seed=8, **args) != first


def test_narrowest_sampling_is_greedy(gpt):
    lm = CausalLM(gpt)
    greedy = lm.generate(PROMPTS, max_new_tokens=8)
    assert lm.generate(PROMPTS, max_new_tokens=8, sampler="top_k", top_k=1,
                       seed=3) == greedy
    assert lm.generate(PROMPTS, max_new_tokens=8, sampler="top_p",
                       top_p=1e-6, seed=3) == greedy


def test_top_k_draws_only_from_the_k_most_likely():
    backbone = GPTDecoder(vocabulary_size=37, num_layers=1, num_heads=2,
                          hidden_dim=16, intermediate_dim=32,
                          max_sequence_length=8, dropout=0.0)
    lm = CausalLM(backbone)
    prompt = [[4, 5, 6]]
    logits = np.asarray(lm({"token_ids": np.array(prompt),
                            "padding_mask": np.ones((1, 3))})[0, -1])
    top3 = set(np.argsort(logits)[-3:].tolist())
    drawn = {lm.generate(prompt, max_new_tokens=1, sampler="top_k", top_k=3,
                         seed=s)[0][-1] for s in range(40)}
    assert drawn <= top3 and len(drawn) > 1


def test_strings_in_and_out_with_a_tokenizer():
    tokenizer = keras_hub.tokenizers.ByteTokenizer()
    backbone = GPTDecoder(vocabulary_size=256, num_layers=1, num_heads=2,
                          hidden_dim=16, intermediate_dim=32,
                          max_sequence_length=24, dropout=0.0)
    lm = CausalLM(backbone, tokenizer=tokenizer)
    texts = lm.generate(["ab", "hello"], max_new_tokens=4)
    ids = lm.generate([list(b"ab"), list(b"hello")], max_new_tokens=4)
    assert texts == [bytes(row).decode("utf-8", "replace") for row in ids]
    assert isinstance(lm.generate("ab", max_new_tokens=2), str)
