"""What every runtime node shares: QoS profiles, parameter declaration from the core specs,
diagnostics, time conversion and a ``main`` that runs a lifecycle node.

Only the ``*_node`` modules import this (it imports rclpy); the logic stays in
:mod:`safevla_core`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.signals import SignalHandlerOptions

from safevla_ros.params import ParameterError, ParamSpec

SENSOR_QOS = qos_profile_sensor_data  # best effort, keep last 5: images, camera_info
LATCHED_QOS = QoSProfile(  # e-stop, instruction: late joiners get the last value
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
RELIABLE_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Internal frame hand-off (perception -> policy): reliable so no accepted frame is lost between
# our own processes, shallow so a slow reader gets the newest frames, not a backlog.
FRAME_QOS = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


def descriptor(spec: ParamSpec) -> ParameterDescriptor:
    """A ParameterDescriptor with the spec's description, range and read-only flag."""
    d = ParameterDescriptor(
        description=f"{spec.description} (allowed: {spec.range_text()})",
        read_only=spec.read_only,
    )
    if isinstance(spec.default, float) and spec.min_value is not None:
        hi = spec.max_value if spec.max_value is not None else sys.float_info.max
        d.floating_point_range = [FloatingPointRange(from_value=spec.min_value, to_value=hi)]
    elif type(spec.default) is int and None not in (spec.min_value, spec.max_value):
        lo, hi = int(spec.min_value), int(spec.max_value)
        d.integer_range = [IntegerRange(from_value=lo, to_value=hi, step=1)]
    return d


def declare_params(node: LifecycleNode, specs: tuple[ParamSpec, ...]) -> None:
    """Declare every spec as a ROS parameter (values from --params-file override defaults).

    The descriptor's range is not enforced by rclpy at declaration from a file, so
    :func:`read_params` validates again and names the parameter on error.
    """
    for spec in specs:
        try:
            node.declare_parameter(spec.name, spec.default, descriptor(spec))
        except (InvalidParameterValueException, InvalidParameterTypeException) as exc:
            raise ParameterError(
                f"{node.get_name()}: parameter {spec.name!r} rejected ({exc}); allowed: "
                f"{type(spec.default).__name__} {spec.range_text()}"
            ) from None


def read_params(node: LifecycleNode, specs: tuple[ParamSpec, ...]) -> dict:
    """Current values, validated against the specs.

    Raises:
        ParameterError: naming the node, the parameter and its allowed range.
    """
    out = {}
    for spec in specs:
        value = node.get_parameter(spec.name).value
        if isinstance(spec.default, list) and value is not None:
            value = list(value)
        try:
            out[spec.name] = spec.validate(value)
        except ParameterError as exc:
            raise ParameterError(f"{node.get_fully_qualified_name()}: {exc}") from None
    return out


def stamp_s(stamp) -> float:
    """builtin_interfaces/Time -> seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def now_s(node: LifecycleNode) -> float:
    """The node's clock in seconds."""
    return node.get_clock().now().nanoseconds * 1e-9


def diagnostics(node: LifecycleNode, level: int, message: str, **values) -> DiagnosticArray:
    """A one-status DiagnosticArray named after the node."""
    status = DiagnosticStatus(
        level=level,
        name=node.get_fully_qualified_name(),
        message=message[:500],
        hardware_id=node.get_namespace(),
        values=[KeyValue(key=k, value=str(v)) for k, v in values.items()],
    )
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = node.get_clock().now().to_msg()
    return msg


# Set by `safevla run` in its node processes: they die with it (see die_with_parent).
PARENT_PID_ENV = "SAFEVLA_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def read_key(path: str) -> bytes:
    """The shared verdict key from ``verdict_key_file`` (b"" when the path is empty).

    Raises:
        ParameterError: an unreadable or empty key file, naming it.
    """
    if not path:
        return b""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ParameterError(f"parameter 'verdict_key_file' = {path!r}: {exc.strerror}") from None
    if len(key) < 16:
        raise ParameterError(
            f"parameter 'verdict_key_file' = {path!r} holds {len(key)} bytes; a key needs >= 16 "
            "(e.g. `head -c 32 /dev/urandom | base64 > FILE`)"
        )
    return key


def die_with_parent() -> None:
    """When started by ``safevla run`` (``SAFEVLA_PARENT_PID`` set): ask Linux to send this
    process SIGTERM when the runner dies, even by SIGKILL, so no node outlives it."""
    parent = os.environ.get(PARENT_PID_ENV, "")
    if not parent.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != int(parent):  # the runner died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


# Set by the node's SIGINT/SIGTERM handler: every error after it is part of the shutdown.
_signalled = threading.Event()


def _interrupt(signum, frame) -> None:
    _signalled.set()
    raise KeyboardInterrupt


# A node that has not ended this long after its first SIGINT/SIGTERM is ended by the kernel
# (SIGALRM's default action), whatever Python is doing: a hung teardown cannot keep it alive.
EXIT_GRACE_S = 10


# Set while run_node's spin loop runs: a signal then only sets the flag, which ends the loop
# within its 0.1 s wait. Raising there could land inside rclpy's own bookkeeping (seen in CI:
# inside ``Task.__init__``, leaving a half-built task whose ``__del__`` printed a traceback).
_spinning = threading.Event()


def _interrupt_with_deadline(signum, frame) -> None:
    """The node's SIGINT/SIGTERM handler: arm the exit deadline once, then end the spin loop
    through the flag (while spinning) or interrupt (construction, startup, teardown)."""
    if not _signalled.is_set():
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(EXIT_GRACE_S)
    if _spinning.is_set():
        _signalled.set()
        return
    _interrupt(signum, frame)


def ended_by_signal(exc: BaseException) -> bool:
    """Whether ``exc`` ended the node because a SIGINT/SIGTERM arrived: it is (or was caused
    by) the handler's interrupt (:func:`interrupted`), or it was raised after the handler ran.
    The second case covers a signal that lands while C++ code converts a message and comes back
    as that code's error with no trace of the interrupt (seen in CI: pybind11's "Unable to
    convert call argument '0' to Python object" from ``take_message`` on Ctrl-C)."""
    return interrupted(exc) or _signalled.is_set()


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, the interrupt :func:`_interrupt` raises. A signal
    that lands while C++ code runs Python (a message deserialised for a callback) comes back as
    that code's own error (e.g. pybind11's TypeError) with the KeyboardInterrupt as its cause."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def run_node(node_cls: type[LifecycleNode], args: list[str] | None = None) -> int:
    """Create, configure, activate and spin a lifecycle node until Ctrl-C, SIGTERM or shutdown.

    The node configures and activates itself (``autostart``), as a lifecycle manager would;
    a failed transition (e.g. a bad parameter) logs the error and exits with status 1. SIGINT
    and SIGTERM are handled here, not by rclpy, so the ROS context is still up when the node's
    ``on_exit()`` (if it has one) runs: the adapter's last word is a zero Twist, the monitor's a
    stop verdict, also when a callback raised.

    While the node spins, a signal only sets a flag that ends the spin loop within 0.1 s (an
    interrupt raised there can land inside rclpy's own code: seen in CI as a traceback from a
    half-built ``Task``); before and after the loop it raises KeyboardInterrupt. The flag also
    ends the loop when an interrupt was swallowed (raised inside a ``__del__``: seen in CI as a
    node that outlived a killed runner). The first signal arms :data:`EXIT_GRACE_S`: a callback
    or a teardown that hangs is ended by the kernel.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupt_with_deadline)
    node = None
    code = 0
    try:
        die_with_parent()  # (its SIGTERM to itself, when the runner is gone, lands here)
        try:
            node = node_cls()
        except ParameterError as exc:
            rclpy.logging.get_logger(node_cls.__name__).fatal(str(exc))
            return 1
        if _signalled.is_set():  # the signal came (and was swallowed) during construction
            pass
        elif node.trigger_configure() != SUCCESS or node.trigger_activate() != SUCCESS:
            node.get_logger().fatal("startup failed (see the error above); exiting")
            code = 1
        else:
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            # A bounded wait: a signal while spinning only sets the flag (no exception inside
            # rclpy or a callback), and the loop ends within 0.1 s of it.
            _spinning.set()
            try:
                while rclpy.ok() and not _signalled.is_set():
                    executor.spin_once(timeout_sec=0.1)
            finally:
                _spinning.clear()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception as exc:  # log it, leave the robot stopped, exit 1
        if not ended_by_signal(exc):  # (Ctrl-C / SIGTERM inside a C++ call: a normal exit)
            if node is not None:
                node.get_logger().fatal(f"crashed: {type(exc).__name__}: {exc}")
            code = 1
            traceback.print_exc()
    finally:
        if node is not None:
            _last_word(node)
            node.destroy_node()
        if rclpy.ok():
            rclpy.try_shutdown()
    return code


def _last_word(node: LifecycleNode) -> None:
    on_exit = getattr(node, "on_exit", None)
    if on_exit is None or not rclpy.ok():
        return
    try:
        on_exit()
    except Exception as exc:  # exiting anyway; say why the last word failed
        node.get_logger().error(f"on_exit failed: {type(exc).__name__}: {exc}")
