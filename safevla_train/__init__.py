"""Offline trainer of the safevla VLA policy: behaviour cloning, then safe RL (PPO-Lagrangian)
with unconstrained-PPO and fixed-penalty baselines, risk elicitation and ONNX bundle export."""
