"""``safevla train {bc,dagger,ppo,ppo-lag,ppo-penalty,critic,detector}``, ``safevla select`` and
``safevla export``.

Every run writes into ``--out``: ``checkpoint.pt``, ``config.yaml`` (the resolved config),
``command.txt`` (the exact command), ``metrics.json`` (final scalars) and ``tb/`` (TensorBoard).
Config: dataclass defaults, then ``--config FILE.yaml`` overrides, then ``--set a.b=value``.
Checkpoints and demonstration caches are read with ``weights_only=True`` only
(:mod:`safevla_train.checkpoint`); ``export --sign-key`` signs the bundle
(:mod:`safevla_core.signing`), ``keygen`` makes the key pair.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import yaml

from safevla_ros.cli.train_critic import add_critic_parser
from safevla_ros.cli.train_detector import add_detector_parser
from safevla_train.config import (
    BEST_BY,
    BCConfig,
    DAggerConfig,
    PPOConfig,
    apply_overrides,
    from_dict,
    load_yaml_overrides,
    parse_dotted,
    to_dict,
)
from safevla_train.registry import (
    ALGORITHMS,
    BC,
    DAGGER,
    DEFAULT_MULTIPLIER,
    MULTIPLIERS,
    PPO_ALGORITHMS,
    PPO_LAG,
)
from sim_bridge.tasks.base import EVAL_MAX_STEPS


def _user_error(msg: str) -> Exception:
    from safevla_core.errors import UserError

    return UserError(msg)


def resolve_config(base, args):
    """Defaults <- YAML file <- --set overrides <- --ray; config errors become UserError."""
    try:
        overrides = load_yaml_overrides(args.config) if args.config else {}
        cfg = apply_overrides(base, overrides, parse_dotted(args.set or []))
    except (OSError, ValueError, TypeError, yaml.YAMLError) as exc:
        raise _user_error(f"bad config: {exc}") from None
    return with_ray(cfg, args)


def with_ray(cfg, args):
    """``cfg`` with its envs on Ray actors when ``--ray [ADDRESS]`` was given (same as
    ``--set env.vec_backend=ray --set env.ray_address=ADDRESS``; DAgger's envs are
    ``bc.env``). Where the envs run does not change the results, so a ``--resume`` may move
    a run onto Ray."""
    address = getattr(args, "ray", None)
    if address is None:
        return cfg
    env = {"env": {"vec_backend": "ray", "ray_address": address}}
    return apply_overrides(cfg, {"bc": env} if isinstance(cfg, DAggerConfig) else env)


def _write_run_files(out: Path, cfg, append_command: bool = False) -> None:
    """Resolved config and the command line; a --resume appends its command to the history."""
    from safevla_ros.cli.outputs import check_output_dir

    check_output_dir(out, "--out")
    (out / "config.yaml").write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    line = "safevla " + shlex.join(sys.argv[1:]) + "\n"
    with open(out / "command.txt", "a" if append_command else "w", encoding="utf-8") as f:
        f.write(line)


def cmd_bc(args) -> int:
    """Record demonstrations and behaviour-clone; writes <out>/checkpoint.pt (kind 'bc')."""
    import torch

    from safevla_ros.cli.outputs import check_output_file
    from safevla_train.bc import collect_demos, train_bc
    from safevla_train.checkpoint import CheckpointError, load_demos, save_checkpoint, save_demos
    from safevla_train.model import VLAPolicy

    cfg = resolve_config(BCConfig(), args)
    out = Path(args.out)
    _write_run_files(out, cfg)
    torch.manual_seed(cfg.seed)
    demos_path = Path(args.demos) if args.demos else None
    if demos_path is not None and demos_path.is_file():
        try:
            demos = load_demos(demos_path)
        except CheckpointError as exc:
            raise _user_error(str(exc)) from None
    else:
        check_output_file(demos_path, "--demos")
        demos = collect_demos(cfg, progress=not args.no_progress)
        if demos_path is not None:
            save_demos(demos, demos_path)
    model = VLAPolicy(cfg.model)
    writer = None
    if not args.no_tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    logs = train_bc(model, demos, cfg, writer, progress=not args.no_progress)
    logs["demos/episodes"] = len(demos)
    logs["demos/steps"] = int(sum(len(d.actions) for d in demos))
    logs["demos/mean_cost"] = float(sum(d.cost for d in demos) / len(demos))
    save_checkpoint(
        out / "checkpoint.pt",
        {
            "kind": "bc",
            "config": to_dict(cfg),
            "model_config": to_dict(cfg.model),
            "model": model.state_dict(),
            "counters": {"updates": cfg.updates},
        },
    )
    (out / "metrics.json").write_text(json.dumps(logs, indent=2) + "\n")
    print(json.dumps(logs, indent=2))
    return 0


def cmd_dagger(args) -> int:
    """Stage 1 with DAgger; writes <out>/checkpoint.pt (kind 'bc') after every round."""
    from safevla_train.checkpoint import CheckpointError, load_checkpoint
    from safevla_train.dagger import run_dagger

    out = Path(args.out)
    state = None
    if args.resume:
        try:
            state = load_checkpoint(out / "checkpoint.pt")
        except CheckpointError as exc:
            raise _user_error(f"--resume: {exc}") from None
        if "dagger" not in state:
            raise _user_error(f"--resume: {out} is not a dagger run; start it without --resume")
        cfg = resolve_config(from_dict(DAggerConfig, state["dagger"]), args)
    else:
        cfg = resolve_config(DAggerConfig(), args)
    _write_run_files(out, cfg, append_command=args.resume)
    writer = None
    if not args.no_tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
    logs = run_dagger(cfg, out, state, writer, progress=not args.no_progress)
    (out / "metrics.json").write_text(json.dumps(logs, indent=2) + "\n")
    return 0


# What a resumed PPO run may change with --set: where it runs and how it is evaluated, none of
# which changes the policy it trains (its rollouts, updates and sync points stay bit-exact).
PPO_RESUME_SETTABLE = (
    "total_steps",
    "eval_every",
    "eval_episodes",
    "eval_workers",
    "keep_evaluated",
    "update_threads",
    "encoder_threads",
    "env.vec_backend",
    "env.ray_address",
)


def _dotted_keys(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        out += _dotted_keys(value, name + ".") if isinstance(value, dict) else [name]
    return out


def _resume_overrides(cfg, args):
    """``cfg`` (the saved run's) with the --set items a resume may change; any other item, or
    a --config, is refused rather than silently ignored."""
    if args.config:
        raise _user_error(
            f"--resume continues the saved config of {args.out}; --config {args.config} is "
            "read only when a run starts (start a new run with another --out to change it)"
        )
    try:
        items = parse_dotted(args.set or [])
    except ValueError as exc:
        raise _user_error(f"bad --set: {exc}") from None
    fixed = [k for k in _dotted_keys(items) if k not in PPO_RESUME_SETTABLE]
    if fixed:
        raise _user_error(
            f"--resume cannot change {', '.join(fixed)}: it would no longer continue the run in "
            f"{args.out} exactly; a resume may set {', '.join(PPO_RESUME_SETTABLE)} (start a new "
            "run with another --out to change the rest)"
        )
    try:
        return apply_overrides(cfg, items) if items else cfg
    except ValueError as exc:
        raise _user_error(f"bad --set: {exc}") from None


def cmd_ppo(args) -> int:
    """PPO-family training from a BC checkpoint (or --resume an interrupted run)."""
    from safevla_train.checkpoint import CheckpointError, load_checkpoint
    from safevla_train.train_ppo import CHECKPOINT, run_ppo

    out = Path(args.out)
    multiplier = getattr(args, "multiplier", None)  # only ppo-lag has --multiplier
    if args.resume:
        try:
            saved = load_checkpoint(out / CHECKPOINT)
        except CheckpointError as exc:
            raise _user_error(f"{exc}; --resume needs an earlier run in --out") from None
        try:
            cfg = from_dict(PPOConfig, saved["config"])
        except (ValueError, TypeError) as exc:
            raise _user_error(f"{out / CHECKPOINT}: bad saved config ({exc})") from None
        if cfg.algo != args.algo:
            raise _user_error(f"{out} holds a {cfg.algo!r} run, not {args.algo!r}")
        if multiplier and cfg.multiplier != multiplier:
            raise _user_error(
                f"{out} holds a run with --multiplier {cfg.multiplier}, not {multiplier}"
            )
        cfg = _resume_overrides(cfg, args)
        if args.total_steps:
            cfg = apply_overrides(cfg, {"total_steps": args.total_steps})
        cfg = with_ray(cfg, args)
    else:
        if not args.init:
            raise _user_error("--init BC_CHECKPOINT is required (or --resume)")
        base = PPOConfig(algo=args.algo, multiplier=multiplier or DEFAULT_MULTIPLIER)
        cfg = resolve_config(base, args)
        if cfg.algo != args.algo:
            raise _user_error(f"config sets algo={cfg.algo!r} but the command is {args.algo!r}")
        if multiplier and cfg.multiplier != multiplier:
            raise _user_error(
                f"config sets multiplier={cfg.multiplier!r} but the command says {multiplier!r}"
            )
        if args.total_steps:
            cfg = apply_overrides(cfg, {"total_steps": args.total_steps})
    _write_run_files(out, cfg, append_command=args.resume)
    try:
        logs = run_ppo(
            cfg,
            out,
            init=args.init,
            resume=args.resume,
            progress=not args.no_progress,
            tensorboard=not args.no_tensorboard,
        )
    except CheckpointError as exc:
        raise _user_error(str(exc)) from None
    (out / "metrics.json").write_text(json.dumps(logs, indent=2) + "\n")
    print(json.dumps(logs, indent=2))
    return 0


def _export_inputs(args):
    """(checkpoint, model) for ``export``, after checking --out and --sign-key: every input
    problem is one line before the minutes of export start."""
    from safevla_core.signing import SigningError, load_private_key
    from safevla_ros.cli.outputs import check_output_dir
    from safevla_train.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint

    if Path(args.out).is_file():
        raise _user_error(f"--out {args.out} is a file; the bundle is a folder")
    check_output_dir(Path(args.out).resolve().parent, "--out")
    try:
        if args.sign_key:
            load_private_key(args.sign_key)
        ckpt = load_checkpoint(args.checkpoint)
        model = model_from_checkpoint(ckpt).eval()
    except (CheckpointError, SigningError) as exc:
        raise _user_error(str(exc)) from None
    if args.end_gate is not None:  # no weight changes: the graph refuses `end` below it
        import dataclasses

        try:
            model.cfg = dataclasses.replace(model.cfg, end_gate=args.end_gate)
        except ValueError as exc:
            raise _user_error(f"--end-gate {args.end_gate}: {exc}") from None
    if args.end_needs_holding:  # no weight changes either: `end` only with the gripper full
        import dataclasses

        model.cfg = dataclasses.replace(model.cfg, end_needs_holding=True)
    return ckpt, model


def cmd_export(args) -> int:
    """Write a model bundle from a checkpoint (ONNX parity-checked)."""
    from safevla_train.evaluate import evaluate
    from safevla_train.export import export_bundle
    from safevla_train.train_ppo import EVALUATED_DIR

    ckpt, model = _export_inputs(args)
    run_dir = Path(args.checkpoint).parent
    if run_dir.name == EVALUATED_DIR:  # <run>/evaluated/it*.pt (ppo.keep_evaluated)
        run_dir = run_dir.parent
    evaluation = {}
    if args.evaluation:
        try:
            evaluation = json.loads(Path(args.evaluation).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _user_error(
                f"--evaluation {args.evaluation}: not a readable JSON file ({exc})"
            ) from None
        if not isinstance(evaluation, dict):
            raise _user_error(f"--evaluation {args.evaluation} must hold a JSON object")
    if args.eval_episodes:
        cfg = ckpt["config"]
        settings = (
            from_dict(PPOConfig, cfg).env if ckpt["kind"] != "bc" else from_dict(BCConfig, cfg).env
        )
        evaluation = dict(
            evaluation, quick_eval=evaluate(model, settings, args.eval_episodes, seed=12345)
        )
    extra = {n: run_dir / n for n in ("config.yaml", "command.txt") if (run_dir / n).is_file()}
    init = ckpt.get("init") or {}
    if init.get("path"):  # provenance of the stage-1 start (exact BC command and config)
        bc_dir = Path(init["path"]).parent
        for n in ("config.yaml", "command.txt"):
            if (bc_dir / n).is_file():
                extra[f"bc_{n}"] = bc_dir / n
    training = {
        "kind": ckpt["kind"],
        "config": ckpt["config"],
        "counters": ckpt.get("counters", {}),
        "init": ckpt.get("init"),
    }
    best = ckpt.get("best")
    if best and best.get("iteration") == training["counters"].get("iteration"):
        # a checkpoint_best.pt: the bundle says which evaluation chose it
        training["selected_by_evaluation"] = best
    evaluated = ckpt.get("evaluation")
    if evaluated and evaluated.get("iteration") == training["counters"].get("iteration"):
        training["evaluated_in_run"] = evaluated  # this very policy's in-run evaluation
    if ckpt.get("selection"):  # a checkpoint_selected.pt: the larger evaluation that chose it
        training["selected_on_episodes"] = ckpt["selection"]
    overrides = {}
    if args.end_gate is not None:
        overrides["model.end_gate"] = args.end_gate
    if args.end_needs_holding:
        overrides["model.end_needs_holding"] = True
    if overrides:
        training["export_overrides"] = overrides
    cq = ckpt["config"].get("cost_q_gamma", 0.0)
    parity = export_bundle(
        model,
        args.out,
        args.name or Path(args.out).name,
        training,
        evaluation,
        cost_q_gamma=cq,
        extra_files=extra,
        sign_key=args.sign_key,
    )
    print(json.dumps({"bundle": str(args.out), "parity_max_abs_diff": parity}, indent=2))
    return 0


def cmd_select(args) -> int:
    """Re-evaluate a run's best evaluated policies on a larger episode set; keep the best."""
    from safevla_eval.suite import episodes_file_path, episodes_for
    from safevla_train.checkpoint import CheckpointError
    from safevla_train.select import rerank_selection, select_policy
    from sim_bridge.episodes import load_episodes, shipped_path

    if args.rerank:
        try:
            sel = rerank_selection(
                args.run, best_by=args.best_by, cost_limit=args.cost_limit, tie_se=args.tie_se
            )
        except (CheckpointError, ValueError) as exc:
            raise _user_error(str(exc)) from None
        print(json.dumps({k: v for k, v in sel.items() if k != "shortlist"}, indent=2))
        return 0

    path = episodes_file_path(args.episodes) if args.episodes else shipped_path(args.task, "val")
    try:
        episodes = episodes_for(args.task, load_episodes(path), args.count, args.seed)
    except (OSError, ValueError) as exc:
        raise _user_error(f"--episodes {path}: {exc}") from None
    if not episodes:
        raise _user_error(f"no {args.task!r} episodes in {path}; pick --task to match the file")
    try:
        sel = select_policy(
            args.run,
            episodes,
            max_steps=args.max_steps,
            shortlist=args.shortlist,
            best_by=args.best_by,
            cost_limit=args.cost_limit,
            tie_se=args.tie_se,
            episodes_name=str(path),
            seed=args.seed,
            log=(lambda _m: None) if args.no_progress else (lambda m: print(m, file=sys.stderr)),
        )
    except (CheckpointError, ValueError) as exc:
        raise _user_error(str(exc)) from None
    print(json.dumps({k: v for k, v in sel.items() if k != "shortlist"}, indent=2))
    return 0


def cmd_keygen(args) -> int:
    """Write an Ed25519 key pair for signing bundles (``<out>.key``, ``<out>.pub``)."""
    from safevla_core.signing import SigningError, generate_keypair

    try:
        private, public = generate_keypair(args.out)
    except SigningError as exc:
        raise _user_error(str(exc)) from None
    except OSError as exc:
        raise _user_error(
            f"--out {args.out}: cannot write the key pair ({exc.strerror})"
        ) from None
    print(
        f"private key (keep it on the training machine): {private}\n"
        f"public key (the robots' verify_key / --verify-key): {public}"
    )
    return 0


def _ray_option(p) -> None:
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="run the simulator envs as Ray actors feeding this learner: a local Ray instance, "
        "or the cluster at ADDRESS (auto, HOST:6379, ray://HOST:10001); same results as "
        "without (docs/scaling.md)",
    )


def _common(p) -> None:
    p.add_argument("--out", required=True, help="run folder (checkpoint, config, tb logs)")
    p.add_argument("--config", help="YAML file of config overrides")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one override, e.g. --set env.num_envs=2 (repeatable)",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs")


def add_parser(subparsers) -> None:
    """Register ``train`` (bc | dagger | ppo | ppo-lag | ppo-penalty | critic | detector),
    ``export`` and
    ``keygen``."""
    train = subparsers.add_parser("train", help="train the VLA: bc, then ppo-lag / baselines")
    algos = train.add_subparsers(dest="algo", metavar="ALGO", required=True)
    bc = algos.add_parser(BC, help=ALGORITHMS[BC])
    _common(bc)
    bc.add_argument("--demos", help="demonstration cache: loaded if it exists, else written")
    _ray_option(bc)
    bc.set_defaults(func=cmd_bc)
    dagger = algos.add_parser(DAGGER, help=ALGORITHMS[DAGGER])
    _common(dagger)
    dagger.add_argument(
        "--resume", action="store_true", help="continue the run in --out at its next round"
    )
    _ray_option(dagger)
    dagger.set_defaults(func=cmd_dagger)
    for name in PPO_ALGORITHMS:
        p = algos.add_parser(name, help=ALGORITHMS[name])
        _common(p)
        p.add_argument("--init", help="BC checkpoint to start from")
        p.add_argument("--resume", action="store_true", help="continue the run in --out")
        p.add_argument("--total-steps", type=int, help="override total env steps")
        _ray_option(p)
        if name == PPO_LAG:
            p.add_argument(
                "--multiplier",
                choices=tuple(MULTIPLIERS),
                help=f"how lambda follows the measured cost (default {DEFAULT_MULTIPLIER}; "
                "pid: PID Lagrangian, gains via --set pid_kp=... pid_ki pid_kd); same as "
                "--set multiplier=NAME",
            )
        p.set_defaults(func=cmd_ppo)
    add_critic_parser(algos, _common, resolve_config, _write_run_files)
    add_detector_parser(algos, _common, resolve_config, _write_run_files)
    ex = subparsers.add_parser("export", help="export a checkpoint as a model bundle")
    ex.add_argument("--checkpoint", required=True, help="checkpoint.pt of a training run")
    ex.add_argument("--out", required=True, help="bundle folder to write")
    ex.add_argument("--name", help="bundle name (default: folder name)")
    ex.add_argument("--evaluation", help="JSON file with an evaluation summary to embed")
    ex.add_argument(
        "--eval-episodes",
        type=int,
        default=0,
        help="run a quick greedy evaluation of this many episodes and embed it",
    )
    ex.add_argument(
        "--sign-key",
        metavar="KEY",
        help="Ed25519 private key (PEM, from `safevla keygen`): write bundle.json.sig",
    )
    ex.add_argument(
        "--end-gate",
        type=float,
        metavar="P",
        help="refuse `end` while the target readout's 2 m output is below P (model.end_gate; "
        "needs a policy with model.target_readout); recorded in bundle.json",
    )
    ex.add_argument(
        "--end-needs-holding",
        action="store_true",
        help="refuse `end` while the gripper is empty (model.end_needs_holding; for PickUp "
        "and Fetch policies, whose success needs the target in hand); recorded in bundle.json",
    )
    ex.set_defaults(func=cmd_export)
    sel = subparsers.add_parser(
        "select",
        help="choose a run's policy to ship on a larger episode set",
        description="Evaluate the SHORTLIST most successful policies (in-run) a run kept with "
        "keep_evaluated greedily on the episodes given, rank them by the run's best_by, and "
        "write <run>/checkpoint_selected.pt (for `safevla export`) and <run>/selection.json. "
        "Choose on the validation set; report on episodes the choice did not see.",
    )
    sel.add_argument("--run", required=True, help="a PPO run folder with evaluated/it*.pt")
    sel.add_argument(
        "--episodes",
        help="episode file or 'longtail' (default: the shipped validation set of --task)",
    )
    sel.add_argument("--task", default="objnav", help="task of the episodes (default objnav)")
    sel.add_argument("--count", type=int, help="evaluate this many episodes of the file")
    sel.add_argument("--seed", type=int, default=0, help="subset and run seed (default 0)")
    sel.add_argument(
        "--max-steps",
        type=int,
        default=EVAL_MAX_STEPS,
        help=f"step limit (default {EVAL_MAX_STEPS}, the benchmark's evaluation limit)",
    )
    sel.add_argument(
        "--shortlist",
        type=int,
        default=4,
        help="re-evaluate this many, the most successful in-run (default 4)",
    )
    sel.add_argument(
        "--best-by",
        choices=BEST_BY,
        help="ranking (default: the run's ppo.best_by)",
    )
    sel.add_argument(
        "--cost-limit", type=float, help="for success_within_limit (default: the run's)"
    )
    sel.add_argument(
        "--tie-se",
        type=float,
        default=1.0,
        help="successes within this many standard errors of the best count as tied; the "
        "cheapest of them is chosen (default 1; 0 = success alone, ties to the lower cost)",
    )
    sel.add_argument(
        "--rerank",
        action="store_true",
        help="choose again among the policies the run's selection.json already evaluated, "
        "by --best-by / --cost-limit / --tie-se, without evaluating (seconds, not minutes)",
    )
    sel.add_argument("--no-progress", action="store_true", help="no per-policy lines")
    sel.set_defaults(func=cmd_select)
    kg = subparsers.add_parser(
        "keygen",
        help="make an Ed25519 key pair for signing bundles",
        description="Write OUT.key (private, mode 0600) and OUT.pub (public). Sign with "
        "`safevla export --sign-key OUT.key` (and critics with `safevla train critic "
        "--sign-key OUT.key`); robots verify with the public key (`--verify-key OUT.pub`, the "
        "nodes' verify_key). Same as `openssl genpkey "
        "-algorithm ed25519 -out OUT.key && openssl pkey -in OUT.key -pubout -out OUT.pub`.",
    )
    kg.add_argument("--out", required=True, help="path prefix of the two key files")
    kg.set_defaults(func=cmd_keygen)


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m safevla_ros.cli.train``), same parsers as ``safevla``."""
    from safevla_ros.cli.main import run_standalone

    return run_standalone(add_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
