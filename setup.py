from setuptools import find_packages, setup

setup(
    name="bnb_fairseq",
    version="0.1.0",
    description="BERT-NAR-BERT: non-autoregressive seq2seq from BERT checkpoints, as a fairseq plugin",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["bnb_fairseq", "bnb_fairseq.*"]),
    python_requires=">=3.10",
    # torch is a lower bound only: an existing (CUDA) torch satisfies it and is never replaced.
    # On a CPU machine install torch first (the Makefile does), or pip fetches a CUDA build.
    install_requires=[
        "torch>=2.6",
        "ve-fairseq==0.12.3",
        "transformers>=4.40",
        "tokenizers>=0.15",
        "safetensors",
        "sentencepiece",
        "sacrebleu>=2.0",
        "rouge-score",  # ROUGE in the recipes (bnb_fairseq.tools.score); brings nltk for METEOR
        "hydra-core>=1.0.7",
        "tqdm",
        "numpy",
        "matplotlib",  # learning-curve plots (bnb_fairseq.tools.learning_curve)
        "onnx>=1.16",  # --inference-precision onnx, tools/export_onnx.py
        "onnxruntime>=1.18",
    ],
    extras_require={"test": ["pytest", "ruff"]},
)
