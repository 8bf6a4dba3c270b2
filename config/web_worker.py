"""The web server's worker: gunicorn's threaded worker, taking only its fair share of connections.

gunicorn's workers share one listening socket, and a kept-alive connection stays with the
worker that accepted it. Whichever worker wakes first takes a new connection, and it is
often the same one: the entitlement benchmark found one of two workers holding 12 to 16 of
its 16 connections, so one process, one core at most under the GIL, answered nearly every
check while the other idled, and the latency tail was that worker's queue.

Here each worker publishes how many connections it holds, in shared memory made before
gunicorn forks its workers, and listens for new ones only while it holds no more than the
least loaded of its live siblings. A worker that stopped listening looks again every 10 ms,
so a new connection waits at most that long for the least loaded one to take it. This
builds on gthread's internals (`set_accept_enabled`, `nr_conns`, `_accepting`): gunicorn
is pinned to 27.x in pyproject.toml.

docker-compose runs it with `--worker-class config.web_worker.FairShareThreadWorker`.
"""

import multiprocessing
import os

from gunicorn.workers.gthread import ThreadWorker

SLOTS = 64  # workers a server may run at once, replacements included
# How soon a worker that stopped listening looks at the shares again. gthread's loop waits up
# to a second for events, and the least loaded worker may have stopped listening before the
# others took more: without this, a new connection could wait that second.
REVISIT_SECONDS = 0.01

# Imported by the arbiter (which loads the worker class) before it forks: every worker
# shares these. A slot holds a worker's pid and its connection count.
_pids = multiprocessing.RawArray("q", SLOTS)
_counts = multiprocessing.RawArray("q", SLOTS)
_claiming = multiprocessing.Lock()  # workers start side by side: one claims a slot at a time


def fair_share(mine: int, siblings: list[int]) -> bool:
    """May a worker holding `mine` connections accept one more? Yes unless a sibling holds fewer."""
    return all(mine <= theirs for theirs in siblings)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim_slot(pid: int) -> int:
    """A free slot, or one left by a worker that died (killed workers can't free theirs)."""
    # A worker killed while holding the lock would hold it forever: after a second, go on.
    locked = _claiming.acquire(timeout=1)
    try:
        for slot in range(SLOTS):
            if _pids[slot] == 0 or not _alive(_pids[slot]):
                _pids[slot], _counts[slot] = pid, 0
                return slot
    finally:
        if locked:
            _claiming.release()
    raise RuntimeError(f"More than {SLOTS} web workers at once; raise config.web_worker.SLOTS.")


class FairShareThreadWorker(ThreadWorker):
    def init_process(self):
        self.slot = _claim_slot(self.pid)
        super().init_process()

    def _may_accept(self) -> bool:
        siblings = [(slot, _pids[slot]) for slot in range(SLOTS) if _pids[slot] not in (0, self.pid)]
        fewer = [(slot, pid) for slot, pid in siblings if _counts[slot] < self.nr_conns]
        # A sibling holding fewer may have died with its count (a killed worker can't lower
        # it): free such slots, so that they don't keep everyone else from accepting.
        dead = {slot for slot, pid in fewer if not _alive(pid)}
        for slot in dead:
            _pids[slot] = 0
        return fair_share(self.nr_conns, [_counts[slot] for slot, _pid in siblings if slot not in dead])

    def set_accept_enabled(self, enabled):
        # gthread's loop calls this whenever it may accept again and isn't: the share is
        # looked at anew on each turn of the loop.
        super().set_accept_enabled(enabled and self._may_accept())

    def accept(self, listener):
        super().accept(listener)
        _counts[self.slot] = self.nr_conns
        if not self._may_accept():
            super().set_accept_enabled(False)

    def wait_for_and_dispatch_events(self, timeout):
        super().wait_for_and_dispatch_events(timeout if self._accepting else min(timeout, REVISIT_SECONDS))
        _counts[self.slot] = self.nr_conns  # connections closed meanwhile

    def handle_exit(self, sig, frame):
        _pids[self.slot] = 0
        super().handle_exit(sig, frame)
