"""genrekit's musicnn network side by side with the ORIGINAL musicnn 0.1.0 TensorFlow graph.

    python benchmarks/bench_vs_tensorflow.py [CLIPS_DIR_OR_AUDIO] [--model MSD_musicnn] [--patches 10]
        [--repeats 7] [--threads 2] [--tf-venv /tmp/gk_tf_venv] [--precisions float32,bfloat16]

Network only, on the same log-mel patches for both: real ones (the first ``--patches`` patches of the clips
found under CLIPS_DIR_OR_AUDIO, e.g. ../shared/data/gtzan_audio, one patch per clip) or, without a path,
patches of a synthesized music-like signal. Prints the CPU's model and vector extensions (/proc/cpuinfo and
``torch.backends.cpu.get_cpu_capability()``), the load average, the kernels genrekit chose, the parity of
the tags (max |difference| against the TF graph) and, per precision, the speed ratio TF time / genrekit
time for the whole stack of patches in one batch ("batched") and one patch per call ("batch of 1", the
original package's batch size). A ratio above 1 means genrekit is faster. The two run as two processes that
take turns, pair by pair (TF, genrekit, TF, genrekit, ...); the ratio is the median of the per-pair ratios,
so a machine whose speed drifts (a shared one) still gives a fair comparison.

The TF side runs in a throwaway virtualenv OUTSIDE the repository, made on first use (about 600 MB):

    python3.11 -m venv /tmp/gk_tf_venv
    /tmp/gk_tf_venv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0
    /tmp/gk_tf_venv/bin/pip install --no-deps musicnn==0.1.0

and builds musicnn's own graph (``musicnn.models.define_model`` under ``tf.compat.v1``, legacy Keras
layers, ``TF_USE_LEGACY_KERAS=1``) restored from the checkpoint inside the musicnn wheel. genrekit never
needs TensorFlow; this script is a benchmark, not a test or a dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TF_PINS = ("tensorflow-cpu==2.21.0", "tf-keras==2.21.0")
MUSICNN_PIN = "musicnn==0.1.0"
AUDIO_EXT = (".ogg", ".wav", ".mp3", ".flac", ".au")


# ---- the TensorFlow side (runs inside the throwaway venv) ------------------------------------------------
def tf_worker(patches_path: str, model: str, threads: int) -> None:
    """Serve timing requests on stdin: ``batched`` / ``single`` / ``tags`` -> one JSON line each."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from importlib import resources

    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    patches = np.load(patches_path)
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, patches.shape[1], 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        taggram = tf.nn.sigmoid(models.define_model(x, is_training, model, 50)[0])
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads, inter_op_parallelism_threads=threads
    )
    sess = tf.compat.v1.Session(config=config)
    tf.compat.v1.train.Saver().restore(sess, str(resources.files("musicnn") / model) + "/")

    def batched() -> np.ndarray:
        return sess.run(taggram, feed_dict={x: patches, is_training: False})

    def single() -> np.ndarray:
        return np.concatenate(
            [
                sess.run(taggram, feed_dict={x: patches[i : i + 1], is_training: False})
                for i in range(len(patches))
            ]
        )

    batched(), single()  # warm-up
    print(json.dumps({"ready": tf.__version__}), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "tags":
            out = Path(patches_path).with_suffix(".tf_tags.npy")
            np.save(out, batched())
            print(json.dumps({"tags": str(out)}), flush=True)
        elif cmd in ("batched", "single"):
            t0, c0 = time.perf_counter(), time.process_time()
            (batched if cmd == "batched" else single)()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(json.dumps({"seconds": wall, "cpu": cpu}), flush=True)
        else:
            break
    sess.close()


# ---- the genrekit side -----------------------------------------------------------------------------------
def cpu_line() -> str:
    from genrekit.features.musicnn.kernels import cpu_report

    cpu = cpu_report()
    return (
        f"CPU: {cpu['model']}, {cpu['cpus']} logical CPUs; "
        f"extensions: {' '.join(cpu['flags']) or 'none listed'}; "
        f"torch {cpu['torch']} capability {cpu['capability']}"
    )


def ensure_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import tensorflow, tf_keras, musicnn"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    repo = Path(__file__).resolve().parents[1]
    if venv.resolve().is_relative_to(repo):
        sys.exit(f"--tf-venv {venv} is inside the repository; give a path outside it")
    print(f"building the TensorFlow venv at {venv} (once) ...", flush=True)
    subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "-q"]
    subprocess.run([*pip, *TF_PINS], check=True)
    subprocess.run([*pip, "--no-deps", MUSICNN_PIN], check=True)
    return python


def real_patches(source: Path, n: int) -> tuple[np.ndarray, str]:
    """One patch (the second, past any intro, else the first) from each of the first ``n`` clips."""
    from genrekit.audio import load
    from genrekit.features.musicnn.preprocess import mel_patches

    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.suffix in AUDIO_EXT)
    files = files[:: max(1, len(files) // n)] if len(files) > n else files
    out: list[np.ndarray] = []
    for f in files:
        p = mel_patches(load(f, sr=16000)[0])
        take = p[1:] if len(files) >= n and len(p) > 1 else p
        out.extend(take[: max(1, n - len(out)) if len(files) < n else 1])
        if len(out) >= n:
            break
    return np.stack(out[:n]).astype(np.float32), f"{len(out[:n])} real patches from {source}"


def synth_patches(n: int) -> tuple[np.ndarray, str]:
    from bench_musicnn import music_signal  # beside this script

    from genrekit.features.musicnn.preprocess import mel_patches

    return mel_patches(music_signal(n * 3.0 + 1, 16000))[
        :n
    ], f"{n} patches of a synthesized music-like signal"


class TFWorker:
    def __init__(self, python: Path, patches_path: Path, model: str, threads: int) -> None:
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
        cmd = [
            str(python),
            __file__,
            "--tf-worker",
            str(patches_path),
            "--model",
            model,
            "--threads",
            str(threads),
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.version = self._read()["ready"]

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the TensorFlow worker died (exit {self.proc.wait()})")
        return json.loads(line)

    def ask(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", type=Path, help="audio file or folder of clips (else synthesized)")
    ap.add_argument("--model", default="MSD_musicnn", choices=["MSD_musicnn", "MTT_musicnn"])
    ap.add_argument("--patches", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--tf-venv", type=Path, default=Path(tempfile.gettempdir()) / "gk_tf_venv")
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--tf-worker", metavar="PATCHES_NPY", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.tf_worker:
        tf_worker(args.tf_worker, args.model, args.threads)
        return

    os.environ["GENREKIT_TORCH_THREADS"] = str(args.threads)
    import torch

    from genrekit.features.musicnn import kernels
    from genrekit.features.musicnn.network import load_musicnn, run

    print(cpu_line())
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; threads: {args.threads}")
    patches, what = real_patches(args.source, args.patches) if args.source else synth_patches(args.patches)
    print(f"input: {what}, shape {patches.shape}")
    python = ensure_venv(args.tf_venv)
    net = load_musicnn(args.model)
    precisions = [kernels.check_precision(p) for p in args.precisions.split(",") if p]
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "patches.npy"
        np.save(npy, patches)
        tf = TFWorker(python, npy, args.model, args.threads)
        tf_tags = np.load(tf.ask("tags")["tags"])
        print(f"TensorFlow {tf.version} (musicnn 0.1.0 graph, tf.compat.v1), torch {torch.__version__}")
        for prec in precisions:
            ours = run(net, patches, batch_size=len(patches), precision=prec)["taggram"]
            print(f"[{prec}] {kernels.describe(kernels.kernel_info(prec))}")
            diff = float(np.abs(ours - tf_tags).max())
            verdict = "within 1e-4" if diff <= 1e-4 else "ABOVE 1e-4"
            print(f"[{prec}] parity: max |tag difference| vs TF = {diff:.2e} ({verdict})")
        rows = []
        for mode, bs in (("batched", len(patches)), ("batch of 1", 1)):
            for prec in precisions:

                def ours_fn(bs: int = bs, prec: str = prec) -> None:
                    run(net, patches, batch_size=bs, precision=prec)

                ours_fn()
                tf_s, our_s, ratio, cpu_ratio, tf_c, our_c = [], [], [], [], [], []
                for _ in range(args.repeats):
                    got = tf.ask("batched" if bs > 1 else "single")
                    t0, c0 = time.perf_counter(), time.process_time()
                    ours_fn()
                    t_us, c_us = time.perf_counter() - t0, time.process_time() - c0
                    (
                        tf_s.append(got["seconds"]),
                        our_s.append(t_us),
                        tf_c.append(got["cpu"]),
                        our_c.append(c_us),
                    )
                    ratio.append(got["seconds"] / t_us), cpu_ratio.append(got["cpu"] / c_us)
                med = statistics.median
                rows.append(
                    (mode, prec, med(tf_s), med(our_s), med(ratio), min(ratio), max(ratio), med(cpu_ratio),
                     med(tf_c), med(our_c))
                )  # fmt: skip
        tf.close()
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    head = f"{'mode':11} {'precision':9} {'TF ms':>8} {'genrekit ms':>12} {'TF/genrekit':>12}"
    print(f"\n{head} {'(min-max)':>12} | {'TF cpu ms':>9} {'genrekit cpu':>12} {'CPU ratio':>9}")
    for mode, prec, t_tf, t_us, r, lo, hi, rc, c_tf, c_us in rows:
        print(
            f"{mode:11} {prec:9} {t_tf * 1000:8.0f} {t_us * 1000:12.0f} {r:11.2f}x "
            f"{lo:5.2f}-{hi:<6.2f} | {c_tf * 1000:9.0f} {c_us * 1000:12.0f} {rc:8.2f}x"
        )
    print(
        "ratios: TF time / genrekit time, median of the pairs (> 1: genrekit faster); CPU-time ratio: the "
        "same with each process's CPU seconds (all threads), steadier than wall time on a busy machine"
    )


if __name__ == "__main__":
    main()
