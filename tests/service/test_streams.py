"""service.streams: the thread <-> generator bridges of the streaming calls."""

from __future__ import annotations

import threading

import pytest

from lookgrid.errors import CancelledError, InvalidInputError
from lookgrid.service.streams import emitted_by, read_ahead


def test_emitted_by_yields_in_order_and_reraises_in_the_caller():
    def work(emit):
        for i in range(5):
            emit(i)

    assert list(emitted_by(work, name="t")) == [0, 1, 2, 3, 4]

    def failing(emit):
        emit("first")
        raise InvalidInputError("bad frame")

    got = []
    with pytest.raises(InvalidInputError, match="bad frame"):
        for item in emitted_by(failing, name="t"):
            got.append(item)
    assert got == ["first"]


def test_read_ahead_frees_what_nobody_took():
    held = []
    stop = threading.Event()
    items = read_ahead(iter(range(10)), stop=stop, alive=lambda: True, ahead=2,
                       on_read=held.append, on_drop=held.remove)
    assert next(items) == 0
    held.remove(0)       # the consumer releases what it took
    items.close()        # ends early: the reader stops, what it read ahead is dropped
    deadline = threading.Event()
    for _ in range(50):
        if not held:
            break
        deadline.wait(0.05)
    assert held == [] and stop.is_set()


def test_read_ahead_passes_errors_and_notices_a_vanished_client():
    def broken():
        yield 1
        raise InvalidInputError("frame 2: bad header")

    got = []
    with pytest.raises(InvalidInputError, match="bad header"):
        for item in read_ahead(broken(), stop=threading.Event(), alive=lambda: True):
            got.append(item)
    assert got == [1]

    never = threading.Event()

    def silent():
        never.wait(5)
        yield 1

    with pytest.raises(CancelledError):
        list(read_ahead(silent(), stop=threading.Event(), alive=lambda: False, poll_s=0.05))
    never.set()
