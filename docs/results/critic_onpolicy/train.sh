#!/usr/bin/env bash
# (thirty-ninth session) The shipped critic's recipe (models/README.md) on its five
# collections plus collect.sh's four on-policy ones, then the corner guard spliced after it.
# Usage: [R=runs/dense] train.sh NAME [--set K=V ...]; writes $R/NAME and $R/NAME/guarded.
# The candidate was trained with two threads; ../critic_steps/train.sh is the same recipe.
set -euo pipefail
exec bash "$(dirname "$0")/../critic_steps/train.sh" "$1" onpolicy --set threads=2 "${@:2}"
