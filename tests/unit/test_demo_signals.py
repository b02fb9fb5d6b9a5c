"""`digitalstate demo` asks to stop on SIGTERM and Ctrl-C without ever hanging on it."""

from __future__ import annotations

import signal
import threading

from digitalstate.demo.run import stop_on_signal

SET_WITHIN_S = 5.0


def test_a_signal_landing_while_the_main_thread_holds_the_events_lock_still_stops() -> None:
    stopping = threading.Event()
    on_signal = stop_on_signal(stopping)
    # A handler runs between two bytecodes of the main thread: here, as inside stopping.wait()
    # or inside a first signal's stopping.set(), with the event's lock held. Setting the event
    # in the handler itself waited on that lock for ever.
    with stopping._cond:  # the lock threading.Event keeps; no public way to hold it
        on_signal(signal.SIGTERM, None)
        on_signal(signal.SIGINT, None)  # a second signal while the first is being handled
        assert not stopping.is_set()
    assert stopping.wait(SET_WITHIN_S)
