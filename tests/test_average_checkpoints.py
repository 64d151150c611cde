"""tools.average_checkpoints: the mean of one training's saves is a checkpoint fairseq-generate decodes;
saves of another model, too few saves, or an output over an input are one error each."""

import os
import sys

import pytest
import torch
from conftest import run_cli, run_generate

from bnb_fairseq.generation.decoding import StoredDecodingDefaults
from bnb_fairseq.tools.average_checkpoints import main, update_saves


def shifted_saves(checkpoint, save_dir, updates):
    """Copies of a checkpoint as update-interval saves, save k's float weights shifted by k (k = 0, 1, ...)."""
    save_dir.mkdir()
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    base = state["model"]
    paths = []
    for k, update in enumerate(updates):
        state["model"] = {n: v + k if v.is_floating_point() else v for n, v in base.items()}
        paths.append(save_dir / f"checkpoint_1_{update}.pt")
        torch.save(state, paths[-1])
    return base, paths


def test_mean_of_the_last_saves_decodes(tiny_ctc, demo_data, tmp_path):
    base, paths = shifted_saves(tiny_ctc.checkpoint, tmp_path / "ckpt", (10, 20, 30, 40))
    StoredDecodingDefaults({"ctc_blank_penalty": 1.0}, "a test").save_into(str(paths[2]))
    out = tmp_path / "avg" / "average.pt"
    main(["--output", str(out), "--dir", str(tmp_path / "ckpt"), "--last", "2", "--upto-update", "30"])
    state = torch.load(out, map_location="cpu", weights_only=False)
    assert os.listdir(out.parent) == ["average.pt"]  # its temporary file renamed, nothing left beside it
    assert state["extra_state"]["averaged_from"] == ["checkpoint_1_20.pt", "checkpoint_1_30.pt"]
    floats = [n for n, v in base.items() if v.is_floating_point()]
    assert floats and len(floats) > len(base) - 3
    for n, v in base.items():
        expected = v + 1.5 if v.is_floating_point() else v  # the mean of shifts 1 and 2
        assert state["model"][n].dtype == v.dtype
        assert torch.allclose(state["model"][n], expected, atol=1e-5), n
    assert "last_optimizer_state" not in state
    assert StoredDecodingDefaults.KEY not in (state.get("task_state") or {})  # tuned for save 30 alone

    # explicit files give the same mean as --dir; the averaged checkpoint decodes every test line
    main(["--output", str(tmp_path / "explicit.pt"), str(paths[1]), str(paths[2])])
    again = torch.load(tmp_path / "explicit.pt", map_location="cpu", weights_only=False)["model"]
    assert all(torch.equal(again[n], state["model"][n]) for n in base)
    out_lines = run_generate(demo_data, out).stdout.splitlines()
    hypotheses = [line for line in out_lines if line.startswith("H-")]
    with open(demo_data.raw / "test.es", encoding="utf-8") as f:
        assert len(hypotheses) == sum(1 for _ in f)


def test_a_newer_checkpoint_last_is_the_newest_save(tiny_ctc, tmp_path):
    """A training stopped between two interval saves: its checkpoint_last.pt is averaged with them, and
    not when it is the last interval save itself."""
    base, paths = shifted_saves(tiny_ctc.checkpoint, tmp_path / "ckpt", (10, 20))
    state = torch.load(paths[1], map_location="cpu", weights_only=False)
    state["optimizer_history"][-1]["num_updates"] = 20
    torch.save(state, tmp_path / "ckpt" / "checkpoint_last.pt")  # the save at 20 again
    assert update_saves(str(tmp_path / "ckpt"), 2) == [str(p) for p in paths]
    state["optimizer_history"][-1]["num_updates"] = 27
    state["model"] = {n: v + 4 if v.is_floating_point() else v for n, v in base.items()}
    torch.save(state, tmp_path / "ckpt" / "checkpoint_last.pt")  # stopped by time at update 27
    last = str(tmp_path / "ckpt" / "checkpoint_last.pt")
    assert update_saves(str(tmp_path / "ckpt"), 2) == [str(paths[1]), last]
    assert update_saves(str(tmp_path / "ckpt"), 2, upto=20) == [str(p) for p in paths]
    main(["--output", str(tmp_path / "mean.pt"), "--dir", str(tmp_path / "ckpt"), "--last", "2"])
    mean = torch.load(tmp_path / "mean.pt", map_location="cpu", weights_only=True)
    assert mean["extra_state"]["averaged_from"] == ["checkpoint_1_20.pt", "checkpoint_last.pt"]
    name, weight = next((n, v) for n, v in base.items() if v.is_floating_point())
    assert torch.allclose(mean["model"][name], weight + 2.5, atol=1e-5)  # shifts 1 and 4


def test_refusals_name_the_problem(tiny_ctc, tiny_b2b, tmp_path, capsys):
    _, paths = shifted_saves(tiny_ctc.checkpoint, tmp_path / "ckpt", (10, 20))
    with pytest.raises(SystemExit, match="holds 2 update-interval checkpoints.*--last asks for 3"):
        main(["--output", str(tmp_path / "a.pt"), "--dir", str(tmp_path / "ckpt"), "--last", "3"])
    with pytest.raises(SystemExit, match="is not the model of"):
        main(["--output", str(tmp_path / "a.pt"), str(paths[0]), str(tiny_b2b.checkpoint)])
    with pytest.raises(SystemExit, match="two or more"):
        main(["--output", str(tmp_path / "a.pt"), str(paths[0])])
    with pytest.raises(SystemExit):
        main(["--output", str(paths[1]), str(paths[0]), str(paths[1])])
    assert "is one of the inputs" in capsys.readouterr().err
    proc = run_cli(
        [
            sys.executable,
            "-m",
            "bnb_fairseq.tools.average_checkpoints",
            "--output",
            str(tmp_path / "a.pt"),
            "missing.pt",
            str(paths[0]),
        ],
        check=False,
    )
    assert proc.returncode != 0 and "checkpoint missing.pt not found" in proc.stderr
    assert not (tmp_path / "a.pt").exists()
