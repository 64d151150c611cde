"""Every option of the plugin, through fairseq's own parser: a boolean flag must do what its name
says. fairseq turns a bool field that defaults to True into a ``store_false`` flag, so passing
``--zero-infinity`` would switch zero_infinity off; all plugin booleans therefore default to False."""

import argparse
import dataclasses
import os

import pytest
from conftest import ROOT, train_cfg

import bnb_fairseq  # noqa: F401  (registers the plugin)

USER_DIR = os.path.join(ROOT, "bnb_fairseq")
BASE = [
    "data-bin",
    "--user-dir",
    USER_DIR,
    "--task",
    "bnb_seq2seq",
    "--arch",
    "bnb_small",
    "--criterion",
    "bnb_ctc",
    "--bpe",
    "bert_wordpiece",
]


def plugin_components():
    """(kind, name, dataclass, flags that select it) for everything bnb_fairseq registers."""
    from fairseq.models import ARCH_MODEL_NAME_REGISTRY, ARCH_MODEL_REGISTRY, MODEL_DATACLASS_REGISTRY
    from fairseq.registry import REGISTRIES
    from fairseq.tasks import TASK_DATACLASS_REGISTRY, TASK_REGISTRY

    def ours(cls):
        return cls.__module__.startswith("bnb_fairseq")

    found = []
    for name, cls in TASK_REGISTRY.items():
        if ours(cls) and name in TASK_DATACLASS_REGISTRY:
            found.append(("task", name, TASK_DATACLASS_REGISTRY[name], ["--task", name]))
    for name, dc in MODEL_DATACLASS_REGISTRY.items():
        # prefer a named arch: the bare model name fills no defaults into the Namespace
        archs = sorted((a for a, m in ARCH_MODEL_NAME_REGISTRY.items() if m == name), key=lambda a: a == name)
        if archs and ours(ARCH_MODEL_REGISTRY[archs[0]]):
            found.append(("model", name, dc, ["--arch", archs[0]]))
    for kind, reg in REGISTRIES.items():
        for name, cls in reg["registry"].items():
            dc = reg["dataclass_registry"].get(name)
            if ours(cls) and dc is not None:
                found.append((kind, name, dc, [f"--{kind.replace('_', '-')}", name]))
    return found


COMPONENTS = plugin_components()


def bool_fields(dc):
    from fairseq.dataclass.utils import interpret_dc_type

    return [f for f in dataclasses.fields(dc) if not f.name.startswith("_") and interpret_dc_type(f.type) is bool]


def parse(extra):
    from fairseq import options

    return options.parse_args_and_arch(options.get_training_parser(), BASE + extra)


def parse_cfg(extra):
    return train_cfg(BASE + extra)


def test_the_plugin_components_are_found():
    kinds = {(kind, name) for kind, name, _, _ in COMPONENTS}
    assert {("task", "bnb_seq2seq"), ("model", "bnb"), ("criterion", "bnb_ctc"), ("bpe", "bert_wordpiece")} <= kinds


@pytest.mark.parametrize("kind,name,dc,select", COMPONENTS, ids=[f"{c[0]}-{c[1]}" for c in COMPONENTS])
def test_boolean_flags_do_what_they_say(kind, name, dc, select):
    flags = bool_fields(dc)
    wrong = [f.name for f in flags if f.default is not False]
    assert not wrong, (
        f"{kind} {name}: bool fields must default to False (name them after what passing them does): {wrong}"
    )
    off = parse_cfg(select)[kind]
    on = parse_cfg(select + ["--" + f.name.replace("_", "-") for f in flags])[kind]
    for f in flags:
        assert off[f.name] is False, f"{kind} {name}: {f.name} is not False without its flag"
        assert on[f.name] is True, f"{kind} {name}: --{f.name.replace('_', '-')} does not set it"


def test_renamed_booleans_reach_criterion_and_task():
    """The defaults keep CTC's zero_infinity and lowercased BLEU; the flags switch them off."""
    from bnb_fairseq.bert.dictionary import BertDictionary
    from bnb_fairseq.criterions.bnb_ctc import BnbCtcCriterion

    task = argparse.Namespace(target_dictionary=BertDictionary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]))
    default = parse_cfg([])
    flagged = parse_cfg(["--no-zero-infinity", "--eval-bleu-cased"])
    assert BnbCtcCriterion(default.criterion, task).zero_infinity is True
    assert BnbCtcCriterion(flagged.criterion, task).zero_infinity is False
    assert default.task.eval_bleu_cased is False and flagged.task.eval_bleu_cased is True
    for cfg in (default, flagged):
        assert "zero_infinity" not in cfg.criterion and "eval_bleu_lowercase" not in cfg.task
