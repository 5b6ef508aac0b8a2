"""safevla_ros: a safety-aligned vision-language-action policy for ROS 2.

The ROS-free core lives in :mod:`safevla_core` and never imports rclpy; the ``*_node`` modules
wire it to ROS topics. The generated interfaces (:mod:`safevla_ros.msg`, :mod:`safevla_ros.srv`)
may be installed in another folder of the same name (a cmake build into a venv); extending
``__path__`` finds them there.
"""

from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
