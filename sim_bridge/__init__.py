"""Simulators behind one backend protocol, the Safety-CHORES cost model, tasks, CMDP env,
expert and episode sets. ROS-free: the ROS node that serves it is
:mod:`safevla_ros.sim_bridge_node`."""
