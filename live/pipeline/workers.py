"""One stage run by several threads at once, its results handed on in the order the items were taken.

The generator is the pipeline's costliest stage, and ONNX Runtime spreads one inference over several cores
less well than several inferences side by side (docs/performance.md). So the generator
stage can have several workers, each with its own session, each rendering another frame. A ticket is handed
out with every item taken from the inbox; a worker that finishes out of turn waits for the worker before
it, so frames leave in capture order (none is shown after a later one, none is dropped for being late).
A worker that fails still gives up its turn, so the others are never left waiting for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from live.pipeline.ringbuffer import RingBuffer

Incoming = TypeVar("Incoming")
Outgoing = TypeVar("Outgoing")


class InTurn(Generic[Incoming, Outgoing]):
    """Takes items from `inbox` with a ticket each; puts results into `outbox` in ticket order, each
    through `then` (applied in order, on the worker whose turn it is: state that must see frames in order,
    such as the no-face hold). Workers are the bodies returned by `worker`; the last to exit closes `outbox`."""

    def __init__(
        self,
        inbox: RingBuffer[Incoming],
        outbox: RingBuffer[Outgoing],
        stop: threading.Event,
        then: Callable[[Outgoing], Outgoing] = lambda result: result,
        wait_s: float = 0.25,
    ) -> None:
        self.inbox = inbox
        self.outbox = outbox
        self.stop = stop
        self.then = then
        self.wait_s = wait_s  # how often a waiting worker re-checks the stop event
        self._take_lock = threading.Lock()
        self._turn_condition = threading.Condition()
        self._next_ticket = 0
        self._turn = 0
        self._running = 0

    def worker(self, step: Callable[[Incoming], Outgoing]) -> tuple[Callable[[], None], Callable[[], None]]:
        """(body, on_exit) of one worker thread applying `step` (live.pipeline.threads.start_stage_thread)."""
        with self._turn_condition:
            self._running += 1

        def body() -> None:
            while not self.stop.is_set():
                taken = self.take()
                if taken is None:
                    if self.inbox.finished:
                        return
                    continue
                ticket, item = taken
                result: Outgoing | None = None
                try:
                    result = step(item)
                finally:
                    self.hand_on(ticket, result)

        return body, self._worker_exited

    def take(self) -> tuple[int, Incoming] | None:
        """The inbox's oldest item with the next ticket, or None when none came within `wait_s`."""
        with self._take_lock:
            item = self.inbox.get(self.wait_s)
            if item is None:
                return None
            ticket = self._next_ticket
            self._next_ticket += 1
            return ticket, item

    def hand_on(self, ticket: int, result: Outgoing | None) -> None:
        """Wait for `ticket`'s turn, put `result` through `then` into the outbox (None: nothing, the step
        failed), and pass the turn on. Returns without putting when the run stops first."""
        with self._turn_condition:
            while not self._turn_condition.wait_for(lambda: self._turn == ticket, self.wait_s):
                if self.stop.is_set():
                    return
            try:
                if result is not None:
                    self.outbox.put(self.then(result))
            finally:
                self._turn += 1
                self._turn_condition.notify_all()

    def _worker_exited(self) -> None:
        with self._turn_condition:
            self._running -= 1
            last = self._running == 0
        if last:
            self.outbox.close()
