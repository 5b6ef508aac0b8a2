"""A SIGINT/SIGTERM that lands inside a C++ call comes back as that call's error, caused by the
KeyboardInterrupt the node's handler raised: ``run_node`` exits normally for it (seen in CI: a
recorder node's log got a traceback when the signal hit a message deserialisation)."""

from __future__ import annotations

from safevla_ros.ros_common import interrupted


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
