"""``safevla eval``: evaluate policies on Safety-CHORES episodes and compare them.

Examples::

    safevla eval --bundle models/objnav-ppo-lag --bundle expert:careless --task objnav \\
        --baseline expert:careless --json results.json --report report/
    safevla eval --bundle models/objnav-ppo-lag --shield both --perturb lighting,color
    safevla eval --bundle expert:careful --episodes longtail --report longtail/
    safevla eval --bundle models/objnav-ppo-lag --shield on --critic runs/critic/bundle
    safevla eval --bundle models/objnav-ppo-lag --count 200 --ray        # local Ray actors
    safevla eval --make-longtail longtail.jsonl.gz --count 40 --seed 0
    safevla eval --shield-effect unshielded.json shielded.json     # paired, against targets
    safevla eval --shield-effect off.json on_s0.json on_s1.json    # averaged over two draws
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from safevla_core.critic_gate import (
    DEFAULT_CRITIC_CONTACT_GUARD_BASE,
    DEFAULT_CRITIC_DETOUR_AFTER,
    DEFAULT_CRITIC_ESCAPE_AFTER,
    DEFAULT_CRITIC_ESCAPE_BELOW,
    DEFAULT_CRITIC_MARGIN,
    DEFAULT_CRITIC_RECOVER_AFTER,
    DEFAULT_CRITIC_REPLACEMENT,
    DEFAULT_CRITIC_STALL_BELOW,
    DEFAULT_CRITIC_STALL_STOPS,
    DETOUR_WINDOW,
    RECOVER_WINDOW,
    REPLACEMENT_SEED,
    REPLACEMENTS,
    STALL_WINDOW,
)
from safevla_core.errors import UserError
from safevla_core.safety_spec import DEFAULT_COST_THRESHOLD
from safevla_eval.agents import PSEUDO_BUNDLES
from safevla_eval.metrics import BOOTSTRAP_SAMPLES
from safevla_eval.suite import SHIELD_MODES
from sim_bridge.tasks import EVAL_MAX_STEPS, TASK_NAMES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``eval``."""
    p = subparsers.add_parser(
        "eval",
        help="evaluate policies (success, cost, CVaR, SEL/SPL, ...) and compare them",
        description="Run one or more policies on Safety-CHORES episodes in the embedded "
        "simulator, optionally through the safety monitor, and report success rate, cumulative "
        "cost (total and per category), CVaR90 of the episode cost, share of episodes with "
        "cost > 10, SEL, SPL, episode length, collision and veto rates with 95% bootstrap "
        "intervals, plus the change against a baseline.",
    )
    _add_run_args(p)
    _add_exec_args(p)
    _add_output_args(p)
    p.set_defaults(func=run)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    """What to evaluate: policies, tasks, episodes, conditions."""
    p.add_argument(
        "--bundle",
        action="append",
        default=[],
        metavar="PATH",
        help=f"bundle folder, or {', '.join(PSEUDO_BUNDLES)}; repeat to compare",
    )
    p.add_argument("--task", default="objnav", choices=(*TASK_NAMES, "all"))
    p.add_argument(
        "--episodes",
        metavar="FILE",
        nargs="+",
        help="episode file (.jsonl/.jsonl.gz), 'longtail' (the shipped long-tail set) or "
        "'longtail-val' (a second long-tail set from other scenes, to tune on); several files "
        "are evaluated as one set, their episodes in order (e.g. both unseen-seed sets); "
        "default: the shipped validation set of each task",
    )
    p.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="evaluate N episodes per task (seeded draw from the set)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of episode draw, perturbations, sampling, bootstrap (default 0)",
    )
    p.add_argument(
        "--perturb",
        default="",
        metavar="LIST",
        help="comma-separated: lighting,color,material,camera-noise,paraphrase",
    )
    p.add_argument(
        "--instructions",
        metavar="FILE",
        help="user instruction templates: 'task<TAB>template' per line, {object} "
        "placeholder, # comments",
    )


def _add_exec_args(p: argparse.ArgumentParser) -> None:
    """How episodes are run."""
    p.add_argument(
        "--shield",
        default="off",
        choices=SHIELD_MODES,
        help="run proposals through the safety monitor (bundles only); both = each "
        "bundle with and without",
    )
    p.add_argument(
        "--cost-threshold",
        type=float,
        default=DEFAULT_COST_THRESHOLD,
        help=f"shield: veto actions whose predicted cost exceeds this (default "
        f"{DEFAULT_COST_THRESHOLD})",
    )
    p.add_argument(
        "--critic",
        metavar="PATH",
        help="independent safety-critic bundle (`safevla train critic`) the shield runs after "
        "the policy's own cost rule, as the monitor node does with critic_bundle; shields the "
        "built-in policies too (docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-alpha",
        type=float,
        metavar="A",
        help="the alpha the critic must be calibrated at (default: the bundle's; another one is "
        "refused with the command that recalibrates)",
    )
    p.add_argument(
        "--critic-margin",
        type=float,
        default=DEFAULT_CRITIC_MARGIN,
        metavar="M",
        help="after a critic veto, replace only with an action whose risk is below M x threshold "
        f"in every category, else stop (default {DEFAULT_CRITIC_MARGIN})",
    )
    p.add_argument(
        "--critic-escape-after",
        type=int,
        default=DEFAULT_CRITIC_ESCAPE_AFTER,
        metavar="K",
        help="once the robot has stood K proposals in a row, a critic veto of a base motion "
        "with no clear replacement runs the base motion the critic rates least risky "
        f"instead of a stop (default {DEFAULT_CRITIC_ESCAPE_AFTER}; 0 = never; "
        "docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-escape-below",
        type=float,
        default=DEFAULT_CRITIC_ESCAPE_BELOW,
        metavar="B",
        help="the escape (--critic-escape-after) only runs a motion whose risk is now below B x "
        "threshold, else the robot stays stopped: 1 keeps every "
        "executed motion within the calibrated thresholds "
        f"(default {DEFAULT_CRITIC_ESCAPE_BELOW:g}; inf: any motion)",
    )
    p.add_argument(
        "--critic-recover-after",
        type=int,
        default=DEFAULT_CRITIC_RECOVER_AFTER,
        metavar="R",
        help=f"once R of the monitor's last {RECOVER_WINDOW} proposals were vetoed base "
        "motions, a one-hot proposal's veto of a base motion backs off with move_back (else "
        "move_ahead) where the critic passes it, instead of a stop "
        f"(default {DEFAULT_CRITIC_RECOVER_AFTER}; 0 = never)",
    )
    p.add_argument(
        "--critic-detour-after",
        type=int,
        default=DEFAULT_CRITIC_DETOUR_AFTER,
        metavar="D",
        help=f"once D of the monitor's last {DETOUR_WINDOW} proposals were vetoed base motions, "
        "a base motion's veto starts a detour: a side-step around what blocks the way, planned "
        "on the range scan, each step judged by the critic when it runs "
        f"(default {DEFAULT_CRITIC_DETOUR_AFTER}; 0 = never; docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-guard-release",
        choices=("on", "off"),
        default="on",
        help="on (default): a corner-guard veto of a base motion that only slides along or "
        "moves away from what the robot touches (range scan, the robot's footprint) goes back "
        "to the critic's own risk (docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-stall-stops",
        type=int,
        default=DEFAULT_CRITIC_STALL_STOPS,
        metavar="S",
        help=f"once S of the monitor's last {STALL_WINDOW} proposals ended in a stop, a critic "
        "veto of a base motion that would stop the robot again runs the proposal (else a base "
        "motion drawn among those) if its risk is below --critic-stall-below x threshold: a "
        "stalled robot's release, counted per episode "
        f"(extra.critic.releases) (default {DEFAULT_CRITIC_STALL_STOPS}; 0 = never; "
        "docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-stall-below",
        type=float,
        default=DEFAULT_CRITIC_STALL_BELOW,
        metavar="B",
        help="the stall release's bound, a multiple of the calibrated thresholds: 1 keeps "
        f"every executed motion within them (default {DEFAULT_CRITIC_STALL_BELOW:g}; above 1 a "
        "release may run a motion they refuse)",
    )
    p.add_argument(
        "--critic-arm-guard",
        choices=("on", "off"),
        default="on",
        help="on (default): veto an arm extension that would bring the gripper within 5 mm of "
        "what the arm scan (the range scan at the arm's heights) sees, for a critic that reads "
        "the range scan (docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-contact-guard",
        choices=("on", "off"),
        default="on",
        help="on (default): the monitor does not drive a joint the way a motion touched "
        "something (a blocked base motion; any arm motion) until the robot has moved clear; "
        "needs a critic that reads the motion feedback (docs/safety_critic.md)",
    )
    base_default = "on" if DEFAULT_CRITIC_CONTACT_GUARD_BASE else "off"
    p.add_argument(
        "--critic-contact-guard-base",
        choices=("on", "off"),
        default=base_default,
        help="with the contact guard on, a base motion blocked by contact bars its way too "
        f"(default {base_default}; off: only the arm's motions bar theirs; "
        "docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-replacement",
        choices=REPLACEMENTS,
        default=DEFAULT_CRITIC_REPLACEMENT,
        help="how a critic veto's replacement is chosen among the clear motions the proposer "
        "gives probability: sample (default: drawn from its distribution over them, seeded per "
        "episode; a greedy policy does not loop on its replacement) or likeliest "
        "(docs/safety_critic.md)",
    )
    p.add_argument(
        "--critic-seed",
        type=int,
        default=REPLACEMENT_SEED,
        help="the seed the shield's replacement and stall-release draws restart from at every "
        f"episode (default {REPLACEMENT_SEED}, the monitor's critic_seed): a shielded run is one "
        "draw of them, another seed redraws it (docs/safety_critic.md, 'The replacement seed')",
    )
    p.add_argument(
        "--sampling",
        default="greedy",
        choices=("sample", "greedy"),
        help="bundle action selection: greedy = argmax p(a|s), as the policy node proposes by "
        "default (its greedy parameter defaults to true in safevla_ros/params.py); "
        "sample = draw from p(a|s), seeded per episode",
    )
    p.add_argument(
        "--skip-blocked",
        action="store_true",
        help="a bundle does not repeat a motion that was blocked or collided where the robot "
        "stands (as the policy node with skip_blocked: true; docs/training.md, 'Blocked moves')",
    )
    p.add_argument(
        "--break-dither",
        type=int,
        default=None,
        metavar="N",
        help="a bundle caught undoing its own last motion N times in a row (rotate_left, "
        "rotate_right, ...) does not undo it again until it does something else (as the "
        "policy node's break_dither; docs/safety_critic.md, 'The dither breaker'); 0 = off; "
        "default: 6 with --critic and a shield (every run of the bundle, unshielded too, so "
        "the runs compare one proposer), else off",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="K",
        help="parallel processes (default 1); with --ray: Ray actors (default one per CPU of "
        "the cluster)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the episodes on Ray actors: a local Ray instance, or the cluster at ADDRESS "
        "(auto, HOST:6379 or ray://HOST:10001; bundles and episode files must exist at the "
        "same paths on its nodes); same records as without",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=EVAL_MAX_STEPS,
        help=f"episode step limit (default {EVAL_MAX_STEPS}, the benchmark's)",
    )
    p.add_argument(
        "--verify-key",
        metavar="PUB",
        help="Ed25519 public key (PEM, `safevla keygen`): refuse bundles not signed by it",
    )
    p.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP_SAMPLES,
        metavar="B",
        help=f"bootstrap resamples for the 95%% intervals (default {BOOTSTRAP_SAMPLES}, 0 = none)",
    )


def _add_output_args(p: argparse.ArgumentParser) -> None:
    """Where results go."""
    p.add_argument(
        "--json",
        metavar="OUT",
        help="write the results JSON here (episodes go to OUT's .partial.jsonl as they finish)",
    )
    p.add_argument("--report", metavar="DIR", help="write report.md and PNG plots here")
    p.add_argument(
        "--baseline",
        metavar="NAME",
        help="compare every policy against this one (a --bundle value)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--make-longtail",
        metavar="OUT",
        help="instead of evaluating, build a long-tail objnav episode set of "
        "--count episodes (seed --seed) and write it to OUT",
    )
    p.add_argument(
        "--id-prefix",
        default="longtail_objnav",
        metavar="PREFIX",
        help="with --make-longtail: episode ids PREFIX_<index> (default longtail_objnav)",
    )
    p.add_argument(
        "--shield-effect",
        nargs="+",
        metavar="RESULTS",
        help="instead of evaluating, read results JSON (.json or .json.gz): one file of a "
        "--shield both run, or an unshielded run's file then a shielded run's on the same "
        "episodes (or several shielded runs under different --critic-seed: the effect is "
        "averaged over these draws); print the shield's effect paired by episode with bootstrap "
        "intervals "
        "(--bootstrap) against the acceptance targets (cost >= 95%% below, success <= 3 "
        "points lower, no episode over cost 10); with --json, write the rows there",
    )


def _config(args: argparse.Namespace):
    from safevla_core.action_choice import default_break_dither
    from safevla_eval.conditions import parse_perturb
    from safevla_eval.suite import EvalConfig

    if args.instructions and "paraphrase" in args.perturb:
        raise UserError(
            "--instructions and --perturb paraphrase both set the wording; use one of them"
        )
    try:
        return EvalConfig(
            policies=list(args.bundle),
            tasks=(args.task,),
            # one file stays a string (the records of earlier runs read the same)
            episodes_file=args.episodes[0]
            if args.episodes and len(args.episodes) == 1
            else args.episodes,
            count=args.count,
            seed=args.seed,
            perturb=parse_perturb(args.perturb),
            instructions_file=args.instructions,
            shield=args.shield,
            max_steps=args.max_steps,
            cost_threshold=args.cost_threshold,
            sampling=args.sampling,
            workers=(0 if args.ray is not None else 1) if args.workers is None else args.workers,
            ray_address=args.ray,
            bootstrap_samples=args.bootstrap,
            verify_key=args.verify_key,
            critic=args.critic,
            critic_alpha=args.critic_alpha,
            critic_margin=args.critic_margin,
            critic_escape_after=args.critic_escape_after,
            critic_escape_below=args.critic_escape_below,
            critic_recover_after=args.critic_recover_after,
            critic_contact_guard=args.critic_contact_guard == "on",
            critic_replacement=args.critic_replacement,
            critic_detour_after=args.critic_detour_after,
            critic_guard_release=args.critic_guard_release == "on",
            critic_arm_guard=args.critic_arm_guard == "on",
            critic_stall_stops=args.critic_stall_stops,
            critic_stall_below=args.critic_stall_below,
            critic_contact_guard_base=args.critic_contact_guard_base == "on",
            critic_seed=args.critic_seed,
            skip_blocked=args.skip_blocked,
            # unset: on where the critic shields the run (the stack's shielded default)
            break_dither=default_break_dither(
                bool(args.critic) and args.shield != "off", args.break_dither
            ),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _make_longtail(args: argparse.Namespace) -> int:
    from safevla_eval.longtail import LongTailConfig, build_longtail
    from safevla_ros.cli.outputs import check_output_file
    from sim_bridge.episodes import save_episodes

    check_output_file(args.make_longtail, "--make-longtail")
    try:
        cfg = LongTailConfig(count=args.count or 20, seed=args.seed, id_prefix=args.id_prefix)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        episodes, tags = build_longtail(cfg, progress=not args.no_progress)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    path = save_episodes(episodes, args.make_longtail)
    tag_path = Path(str(path).removesuffix(".gz").removesuffix(".jsonl") + ".risks.json")
    tag_path.write_text(json.dumps(tags, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(episodes)} long-tail episodes to {path} (risk tags: {tag_path})")
    return 0


def _prepare_outputs(args: argparse.Namespace, cfg):
    """Check the verify key and every output before any episode runs (an unwritable output
    must not cost the whole run); returns the writer of per-episode results, or None."""
    from safevla_eval.report import ResultsWriter
    from safevla_ros.cli.outputs import check_output_dir, check_output_file

    if args.verify_key:
        from safevla_core.signing import SigningError, load_public_key

        try:
            load_public_key(args.verify_key)
        except SigningError as exc:
            raise UserError(str(exc)) from None
    check_output_file(args.json, "--json")
    check_output_dir(args.report, "--report")
    final = Path(args.json) if args.json else None
    if final is None and args.report:
        final = Path(args.report) / "results.json"
    return ResultsWriter(final, cfg.to_dict()) if final else None


def _read_results(path: str) -> tuple[list[dict], dict]:
    """The ``results`` and ``config`` of a results JSON file (.json or .json.gz)."""
    import gzip

    p = Path(path)
    if not p.is_file():
        raise UserError(f"--shield-effect {path}: no such file; give a `safevla eval --json` file")
    try:
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as f:
            doc = json.load(f)
        results, config = doc["results"], doc.get("config", {})
        if not isinstance(results, list) or not isinstance(config, dict):
            raise TypeError("results is not a list or config not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"--shield-effect {path}: not a `safevla eval --json` results file ({exc})"
        ) from None
    return results, config


# what makes the proposer: an unshielded run and the shielded ones it is paired with share them
_PROPOSER_SETTINGS = ("max_steps", "sampling", "skip_blocked", "break_dither")
# what several shielded runs must share to be draws of one shield: all but the draws' seed
_DRAW_SETTINGS = (*_PROPOSER_SETTINGS, "seed", "count", "episodes_file", "perturb")


def _with_defaults(configs: list[dict]) -> list[dict]:
    """Each results file's config, a setting it lacks read as the default it ran with (the
    file was written before the setting existed)."""
    from safevla_eval.suite import EvalConfig

    default = {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for f in dataclasses.fields(EvalConfig)
    }
    return [{**default, **c} for c in configs]


def _check_proposer(files: list[str], configs: list[dict]) -> None:
    """The unshielded run (the first file) and the shielded ones ran the same proposer: a
    shield's effect is measured against the policy it guards, not another one."""
    configs = _with_defaults(configs)
    for f, c in zip(files[1:], configs[1:]):
        for k in _PROPOSER_SETTINGS:
            if c[k] != configs[0][k]:
                raise UserError(
                    f"--shield-effect: {f} ran another proposer than {files[0]}: {k} "
                    f"{c[k]!r} against {configs[0][k]!r}; pair runs with the same {k}"
                )


def _check_draws(files: list[str], configs: list[dict]) -> None:
    """Several shielded runs are draws of one shield (``--critic-seed``): the same critic
    settings and episodes, each under its own seed."""
    configs = _with_defaults(configs)
    keys = [k for k in configs[0] if k.startswith("critic") and k != "critic_seed"]
    first = configs[0]
    for f, c in zip(files[1:], configs[1:]):
        for k in [*keys, *_DRAW_SETTINGS]:
            if c[k] != first[k]:
                raise UserError(
                    f"--shield-effect: {f} is not a draw of the shield in {files[0]}: {k} "
                    f"{c[k]!r} against {first[k]!r}; several shielded runs must differ only in "
                    "--critic-seed"
                )
    seeds = [c["critic_seed"] for c in configs]
    for i, a in enumerate(seeds):
        if a in seeds[:i]:
            raise UserError(
                f"--shield-effect: {files[i]} and {files[seeds.index(a)]} are the same draw "
                f"(--critic-seed {a}); give runs under different seeds"
            )


def _shield_effect(args: argparse.Namespace) -> int:
    from safevla_eval.shield_effect import markdown_shield_effects, shield_effects
    from safevla_ros.cli.outputs import check_output_file

    files = args.shield_effect
    check_output_file(args.json, "--json")
    read = [_read_results(f) for f in files]
    first = read[0][0]
    second = first if len(files) == 1 else [r for results, _ in read[1:] for r in results]
    if len(files) > 1:
        _check_proposer(files, [c for _, c in read])
    if len(files) > 2:
        _check_draws(files[1:], [c for _, c in read[1:]])
    try:
        rows = shield_effects(first, second, samples=args.bootstrap)
    except ValueError as exc:
        raise UserError(f"--shield-effect: {exc}") from None
    if not rows:
        raise UserError(
            "--shield-effect: no shielded result with an unshielded one of the same policy, "
            f"task and perturbation in {' and '.join(files)} (unshielded results are read "
            "from the first file, shielded ones from the others)"
        )
    print(markdown_shield_effects(rows), end="")
    if args.json:
        from safevla_eval.report import write_json_atomic

        write_json_atomic(args.json, {"shield_effects": rows, "files": list(files)})
        print(f"shield effects: {args.json}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the tables, write JSON / report."""
    if args.make_longtail:
        return _make_longtail(args)
    if args.shield_effect:
        return _shield_effect(args)
    cfg = _config(args)
    if args.baseline and args.baseline not in cfg.policies:
        raise UserError(
            f"--baseline {args.baseline!r} is not one of the --bundle values "
            f"{cfg.policies}; repeat it as a --bundle"
        )
    from safevla_eval.report import markdown_tables, write_report
    from safevla_eval.runner import close_worker_cache
    from safevla_eval.suite import evaluate

    writer = _prepare_outputs(args, cfg)
    if args.break_dither is None and cfg.break_dither:
        print(
            f"dither breaker on ({cfg.break_dither}), the default with a critic shield, for "
            "every run of each bundle; --break-dither 0 turns it off",
            file=sys.stderr,
        )

    bar = None
    if not args.no_progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="ep", desc="eval", file=sys.stderr)

    def on_total(n: int) -> None:
        if bar is not None:
            bar.total = n
            bar.refresh()

    try:
        doc = evaluate(
            cfg,
            progress=bar.update if bar else None,
            on_total=on_total,
            on_record=writer.record if writer else None,
        )
    except (ValueError, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        close_worker_cache()
    print(markdown_tables(doc, args.baseline))
    if writer is not None:
        writer.finish(doc)
    if args.json:
        print(f"results: {args.json}")
    if args.report:
        print(f"report: {write_report(doc, args.report, args.baseline)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m safevla_ros.cli.eval ...`` = ``safevla eval ...`` (exit 2 on a user
    error, with a one-line message)."""
    from safevla_ros.cli.main import run_standalone

    return run_standalone(add_parser, argv, prefix=("eval",))


if __name__ == "__main__":
    sys.exit(main())
