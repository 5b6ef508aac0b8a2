"""Reading, merging and writing the typed configs of :mod:`safevla_train.config`.

YAML files and ``--set key.sub=value`` items only supply overrides; they are merged onto the
dataclass by OmegaConf structured configs, which check every key and type against the dataclass
and name the offending key, and the result is instantiated (so every ``__post_init__`` check
runs). :func:`to_dict` gives the resolved config saved with every checkpoint and bundle. These
functions work on any config dataclass; :mod:`safevla_train.config` re-exports them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException


def to_dict(cfg: Any) -> dict:
    """JSON/YAML-ready dict of a (nested) config dataclass; tuples become lists."""

    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (tuple, list)):
            return [conv(x) for x in v]
        return v

    return conv(cfg)


def from_dict(cls: type, d: dict) -> Any:
    """Build config ``cls`` from a (nested) dict; missing keys keep their defaults.

    Raises:
        ValueError: an unknown key or a value of the wrong type, naming the key.
    """
    return _build(OmegaConf.structured(cls), d)


def apply_overrides(cfg: Any, *overrides: dict) -> Any:
    """A copy of ``cfg`` with nested ``overrides`` (e.g. YAML, then ``--set``) applied in order.

    Raises:
        ValueError: an unknown key or a value of the wrong type, naming the key.
    """
    return _build(OmegaConf.structured(cfg), *(o or {} for o in overrides))


def parse_dotted(items: list[str]) -> dict:
    """``["env.num_envs=2", "model.cnn_channels=[8,16]"]`` -> nested overrides (YAML values).

    Raises:
        ValueError: an item without ``=``.
    """
    for item in items:
        if "=" not in item:
            raise ValueError(f"override {item!r} must look like key.sub=value")
    return OmegaConf.to_container(OmegaConf.from_dotlist(list(items)))


def _build(base: Any, *layers: dict) -> Any:
    """Merge ``layers`` onto the structured config ``base`` and instantiate the dataclass (which
    runs every ``__post_init__`` check); OmegaConf's errors become one-line ValueErrors."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(base, *layers))
    except ConfigKeyError as exc:
        parent, is_dc = exc.object_type, dataclasses.is_dataclass
        known = sorted(f.name for f in dataclasses.fields(parent)) if is_dc(parent) else []
        raise ValueError(f"unknown config key '{exc.full_key}'; known: {known}") from None
    except OmegaConfBaseException as exc:
        where = f"config key '{exc.full_key}': " if exc.full_key else ""
        raise ValueError(where + str(exc).splitlines()[0]) from None


def load_yaml_overrides(path: str) -> dict:
    """Read a YAML file of overrides; it must hold a mapping."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(data).__name__}")
    return data
