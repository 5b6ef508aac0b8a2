"""Learning curves read real TensorBoard event files, resumed runs deduplicated."""

from __future__ import annotations

from torch.utils.tensorboard import SummaryWriter

from safevla_train.curves import main, read_scalars


def _write(run, points, tag="charts/episode_cost"):
    writer = SummaryWriter(str(run / "tb"))
    for step, value in points:
        writer.add_scalar(tag, value, step)
    writer.close()


def test_resumed_run_keeps_the_latest_value_per_step(tmp_path):
    run = tmp_path / "run"
    _write(run, [(1, 5.0), (2, 4.0), (3, 3.0)])
    _write(run, [(3, 2.5), (4, 2.0)])  # resumed from step 2: step 3 re-logged
    steps, values = read_scalars(run, ("charts/episode_cost", "safety/lambda"))[
        "charts/episode_cost"
    ]
    assert steps == [1, 2, 3, 4]
    assert values == [5.0, 4.0, 2.5, 2.0]


def test_cli_writes_png_and_rejects_a_run_without_events(tmp_path, capsys):
    run = tmp_path / "run"
    _write(run, [(i, float(i)) for i in range(20)])
    out = tmp_path / "curves.png"
    assert main(["--run", str(run), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["--run", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "no TensorBoard events" in capsys.readouterr().err
