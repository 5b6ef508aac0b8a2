"""A SIGINT/SIGTERM that lands inside a C++ call comes back as that call's error, caused by the
KeyboardInterrupt the node's handler raised: ``run_node`` exits normally for it (seen in CI: a
recorder node's log got a traceback when the signal hit a message deserialisation). Some such
errors carry no trace of the interrupt at all; any error raised after the node's signal handler
ran is then the shutdown too."""

from __future__ import annotations

import signal

import pytest

from safevla_ros import ros_common
from safevla_ros.ros_common import ended_by_signal, interrupted


def test_an_error_caused_by_the_interrupt_counts_as_the_interrupt():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as ki:
            raise TypeError("Unable to convert function return value") from ki
    except TypeError as exc:
        assert interrupted(exc)
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("during handling") from None  # context kept, cause suppressed
    except ValueError as exc:
        assert interrupted(exc)
    assert interrupted(KeyboardInterrupt())


def test_a_real_crash_is_not_an_interrupt():
    try:
        try:
            raise OSError("disk")
        except OSError as inner:
            raise RuntimeError("callback failed") from inner
    except RuntimeError as exc:
        assert not interrupted(exc)
    assert not interrupted(TypeError("bad"))


@pytest.fixture
def fresh_signal_state():
    ros_common._signalled.clear()
    yield
    ros_common._signalled.clear()


def test_an_error_without_the_interrupt_in_its_chain_is_a_shutdown_once_a_signal_came(
    fresh_signal_state,
):
    bare = RuntimeError("Unable to convert call argument '0' to Python object")
    assert not interrupted(bare)
    assert not ended_by_signal(bare)  # no signal yet: a crash, exit status 1
    with pytest.raises(KeyboardInterrupt):
        ros_common._interrupt(signal.SIGINT, None)  # what the node's SIGINT handler does
    assert ended_by_signal(bare)  # after it: part of the shutdown, exit status 0
    assert ended_by_signal(KeyboardInterrupt())


# A lifecycle node run by run_node whose code swallows the interrupt (as Python does for one
# raised inside a __del__ or a GC callback): its timer sleeps and catches BaseException.
_SWALLOWING_NODE = """
import sys, time
from rclpy.lifecycle import LifecycleNode
from safevla_ros.ros_common import run_node

class Swallower(LifecycleNode):
    def __init__(self):
        super().__init__("swallower")
        self.create_timer(0.05, self.tick)
        print("spinning", flush=True)

    def tick(self):
        try:
            time.sleep(0.5)
        except BaseException as exc:
            print(f"callback interrupted: {type(exc).__name__}", flush=True)

    def on_exit(self):
        if "--hang" in sys.argv:
            while True:
                try:
                    time.sleep(60)
                except BaseException:
                    pass

sys.exit(run_node(Swallower, []))
"""


def _run_swallower(subprocess_env, *args: str) -> tuple[float, int, str]:
    """Start the node, SIGTERM it once it spins; seconds until it ended, its exit status and
    what it printed after "spinning"."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-c", _SWALLOWING_NODE, *args],
        env=subprocess_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "spinning"
        time.sleep(0.6)  # inside the swallowing sleep
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(ros_common.EXIT_GRACE_S + 20)
        return time.monotonic() - start, code, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_signal_while_spinning_ends_the_loop_without_raising_into_callbacks(subprocess_env):
    """SIGTERM lands while a callback runs: the callback is not interrupted (an exception raised
    there can land inside rclpy's own code), and the node still ends by the flag, right after
    the callback returns, with status 0."""
    took, code, printed = _run_swallower(subprocess_env)
    assert code == 0
    assert "callback interrupted" not in printed
    assert took < ros_common.EXIT_GRACE_S  # by the flag, not by the deadline


def test_a_node_whose_teardown_hangs_is_ended_by_the_exit_deadline(subprocess_env):
    took, code, _ = _run_swallower(subprocess_env, "--hang")
    assert code == -signal.SIGALRM
    assert ros_common.EXIT_GRACE_S - 1 < took < ros_common.EXIT_GRACE_S + 10
