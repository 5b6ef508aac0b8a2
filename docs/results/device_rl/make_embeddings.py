"""Precompute the instruction embeddings a training run can ask for, with the real encoder, for a
machine that lacks the encoder's wheel (the lent GPU machine: its 88 MB do not fit the 64 MiB
that travels there). Every template of every task (train and held-out) filled with every
spoken name of every object type the simulator's catalogue and OBJECT_SYNONYMS know.

    .venv/bin/python docs/results/device_rl/make_embeddings.py OUT.npz

The stand-in package in ``shim/`` serves them and refuses any other text.
"""

import re
import sys
from pathlib import Path

import numpy as np

import sim_bridge.mujoco.catalog as catalog
from safevla_core.instruction_encoder import InstructionEncoder
from sim_bridge.instructions import (
    HELDOUT_TEMPLATES,
    OBJECT_SYNONYMS,
    TRAIN_TEMPLATES,
    object_names,
)


def main() -> None:
    here = Path(catalog.__file__).parent
    sources = [Path(catalog.__file__), here / "procgen_objects.py", here / "procgen.py"]
    types = set(OBJECT_SYNONYMS) | set(catalog.load_catalog())  # every type of the catalogue
    for path in sources:  # type names as they appear in the catalogue's source
        types |= set(re.findall(r'"([A-Z][A-Za-z]+)"', path.read_text()))
    names = sorted({n for t in types for n in object_names(t)})
    groups = (TRAIN_TEMPLATES, HELDOUT_TEMPLATES)
    pools = [t for group in groups for ts in group.values() for t in ts]
    texts = sorted({t.replace("{object}", n) for t in pools for n in names})
    emb = InstructionEncoder().embed_many(texts).astype(np.float32)
    np.savez_compressed(sys.argv[1], texts=np.array(texts), emb=emb)
    print(len(types), "types,", len(names), "names,", len(texts), "texts", emb.shape)


if __name__ == "__main__":
    main()
