"""Simulators behind one backend protocol, the Safety-CHORES cost model, tasks, CMDP env,
expert and episode sets. ROS-free except :mod:`sim_bridge.sim_bridge_node`."""
