"""The symbolic machine rebuilds plain data exactly, whatever opcodes the standard pickler chose."""

from __future__ import annotations

import io
import pickle
import pickletools

import pytest

from scanner.pickles.stream import read_one

NUMBERS = [
    [1.5, -2.25, 1e300, float("-inf"), 0.0],
    (0, 1, 255, 256, 65535, 65536, -1, 2**31 - 1, -(2**31), 2**40),
    list(range(2500)),  # several batches of APPENDS, runs of BININT1, BININT2 and BININT
    [i / 7 for i in range(1200)],
    {"weights": [0.25] * 40, "ids": list(range(250, 300))},
]


def _plain(value: object) -> object:
    """The machine's symbolic dict as a plain dict (lists and tuples stay as they are)."""
    pairs = getattr(value, "pairs", None)
    if pairs is not None:
        return {k: _plain(v) for k, v in pairs()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


@pytest.mark.parametrize("protocol", range(6))
def test_numbers_and_containers_come_out_as_pickled(protocol: int) -> None:
    data = pickle.dumps(NUMBERS, protocol=protocol)
    trace = read_one(io.BytesIO(data), 0, len(data), {})
    assert trace.stopped and not trace.errors and not trace.calls
    assert _plain(trace.result) == NUMBERS
    assert trace.ops == sum(1 for _ in pickletools.genops(data))  # runs count every opcode in them


@pytest.mark.parametrize("cut", [1, 5, 9, 10, 100])
def test_a_run_cut_short_is_reported_not_guessed(cut: int) -> None:
    data = pickle.dumps([i / 3 for i in range(50)], protocol=2)
    trace = read_one(io.BytesIO(data[: len(data) - cut]), 0, len(data) - cut, {})
    assert not trace.stopped and trace.errors


def test_the_quick_start_check_never_accepts_what_the_reader_rejects() -> None:
    import random

    from scanner.pickles.detect import _quick_start, _reader_start
    from tests.conftest import FIXTURES

    heads = [p.read_bytes()[: 64 << 10] for p in sorted(FIXTURES.rglob("*")) if p.is_file()]
    heads += [pickle.dumps(NUMBERS, protocol=p) for p in range(6)]
    rnd = random.Random(11)
    for base in list(heads):
        for _ in range(3):
            mutated = bytearray(base[:300])
            if mutated:
                mutated[rnd.randrange(len(mutated))] = rnd.randrange(256)
            heads.append(bytes(mutated))
    heads += [bytes([0x80, rnd.randrange(2, 6)]) + rnd.randbytes(rnd.randrange(40)) for _ in range(3000)]
    quick = 0
    for head in heads:
        if _quick_start(head, 8):
            quick += 1
            # the reader accepts it too, whether the head is the whole file or the start of a longer one
            assert _reader_start(head, len(head), 8), head[:40]
            assert _reader_start(head, len(head) + 1000, 8), head[:40]
    assert quick > 100  # the shortcut does take the common case
