"""Safety evaluation and assurance (``safevla eval``): run policies on Safety-CHORES episode
sets, compute the paper's metrics with confidence intervals, compare against a baseline, build
the long-tail episode set and write JSON and markdown/PNG reports."""
