"""package.xml parses, is format 3, and declares every ROS package the Python code imports."""

from __future__ import annotations

import ast
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIRS = ("safevla_ros", "sim_bridge", "safevla_train", "launch", "ros_scripts")
# ROS packages that are Python-only or absent from the wheels' ament index here.
KNOWN_ROS_PACKAGES = {"rclpy", "launch", "launch_ros", "launch_testing", "rosidl_runtime_py"}
DEPEND_TAGS = ("depend", "exec_depend", "build_depend", "test_depend", "buildtool_depend")


def ament_indexed_packages() -> set[str]:
    """Names of the ROS packages registered in this environment's ament index."""
    prefix = Path(sysconfig.get_paths()["data"])
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    return {p.name for p in index.iterdir()} if index.is_dir() else set()


def imported_top_level_names() -> dict[str, str]:
    """Top-level module name -> first file importing it, over the package's Python code."""
    names: dict[str, str] = {}
    for folder in PYTHON_DIRS:
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix != ".py" and not (folder == "ros_scripts" and path.is_file()):
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    mods = [node.module]
                else:
                    continue
                for mod in mods:
                    names.setdefault(mod.split(".")[0], str(path.relative_to(REPO)))
    return names


def declared_dependencies(root: ET.Element) -> set[str]:
    return {el.text.strip() for tag in DEPEND_TAGS for el in root.iter(tag) if el.text}


def test_package_xml_is_valid_format_3():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "safevla_ros"
    for required in ("version", "description", "maintainer", "license"):
        assert (root.findtext(required) or "").strip(), f"package.xml lacks <{required}>"
    assert root.find("export/build_type").text == "ament_cmake"
    # The interfaces are generated, so the package must be in the interface group.
    assert root.findtext("member_of_group") == "rosidl_interface_packages"


def test_every_imported_ros_package_is_declared():
    ros_packages = ament_indexed_packages() | KNOWN_ROS_PACKAGES
    assert "std_msgs" in ros_packages, "ament index not found: is the venv set up?"
    declared = declared_dependencies(ET.parse(REPO / "package.xml").getroot())
    imported = imported_top_level_names()
    missing = {
        name: where
        for name, where in imported.items()
        if name in ros_packages and name != "safevla_ros" and name not in declared
    }
    assert not missing, f"ROS packages imported but not declared in package.xml: {missing}"


def test_interfaces_listed_in_cmake_exist():
    cmake = (REPO / "CMakeLists.txt").read_text()
    files = sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("msg/*.msg"))
    files += sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("srv/*.srv"))
    assert files
    for f in files:
        assert f'"{f}"' in cmake, f"{f} exists but CMakeLists.txt does not generate it"
