"""GPT windows: contiguous, packed, no padding, no cross-document leakage."""

import numpy as np
import pytest

from zoo.data import language_modeling

SEP = 0


def documents():
    """Documents of different lengths whose ids tell which document they
    come from: document d uses ids 100 d + 1 ... 100 d + 99."""
    rng = np.random.default_rng(0)
    return [100 * d + rng.integers(1, 100, size=n)
            for d, n in enumerate([5, 40, 3, 70, 17, 1, 33])]


def document_of(token):
    return None if token == SEP else token // 100


def take(dataset, batches):
    return [(x["token_ids"].numpy(), y.numpy())
            for x, y in dataset.take(batches)]


def test_windows_are_contiguous_slices_of_the_packed_stream():
    stream = language_modeling.token_stream(documents(), SEP)
    assert stream.tolist().count(SEP) == len(documents())
    text = stream.tolist()
    for x, y in take(language_modeling.window_dataset(stream, 8, 4), 20):
        assert x.shape == y.shape == (4, 8)
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # y is x shifted
        for row_x, row_y in zip(x, y):
            window = row_x.tolist() + row_y[-1:].tolist()
            starts = [i for i in range(len(text) - 8)
                      if text[i : i + 9] == window]
            assert starts, "a window that is not a slice of the stream"


def test_no_cross_document_leakage_beyond_the_separator():
    """Within a window, a token follows a token of another document only
    across the separator."""
    stream = language_modeling.token_stream(documents(), SEP)
    for x, y in take(language_modeling.window_dataset(stream, 16, 4), 50):
        for row_x, row_y in zip(x, y):
            window = row_x.tolist() + row_y[-1:].tolist()
            for a, b in zip(window, window[1:]):
                if SEP not in (a, b):
                    assert document_of(a) == document_of(b), window
            # the label of the last token of a document is the separator
            for position, token in enumerate(row_x):
                if token != SEP and row_y[position] != SEP:
                    assert document_of(row_y[position]) == document_of(token)


def test_epochs_shift_and_shuffle_and_a_resumed_run_continues():
    stream = np.arange(1, 1001, dtype="int32")
    dataset = language_modeling.window_dataset(stream, 10, 5, seed=3)
    batches = take(dataset, 60)  # 99 windows per epoch: several epochs
    starts = [x[:, 0] for x, _ in batches]
    first_epoch = np.concatenate(starts)[:99]
    assert len(set(first_epoch % 10)) == 1  # one offset per epoch
    assert not np.all(np.diff(first_epoch) > 0)  # shuffled
    offsets = {int(s % 10) for s in np.concatenate(starts)}
    assert len(offsets) > 1  # a new offset in a later epoch
    resumed = language_modeling.window_dataset(stream, 10, 5, seed=3,
                                               skip_batches=7)
    np.testing.assert_array_equal(take(resumed, 1)[0][0], batches[7][0])


def test_validation_windows_cover_the_text_once_in_order():
    stream = np.arange(1, 102, dtype="int32")  # 101 tokens: 10 windows of 10
    batches = take(language_modeling.window_dataset(
        stream, 10, 4, training=False), 10)
    x = np.concatenate([b[0] for b in batches])
    assert x.shape == (10, 10)
    np.testing.assert_array_equal(x.reshape(-1), np.arange(1, 101))


def test_too_little_text_is_refused():
    with pytest.raises(ValueError, match="fewer than one window"):
        language_modeling.window_dataset(np.arange(5), 8, 2)
