"""Make tests/fixtures/musicnn_parity.npz: reference outputs of the ORIGINAL musicnn TensorFlow graphs.

Run once, by hand, in a throwaway virtualenv OUTSIDE the repository (genrekit itself never needs
TensorFlow; CI only reads the .npz this writes):

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu tf-keras librosa soundfile
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python tools/make_musicnn_fixture.py

(made with tensorflow-cpu 2.21.0, tf-keras 2.21.0, librosa of the same day, numpy 2.x, Python 3.11).

What it stores (all float32, small):

- ``signal`` (48000,): a deterministic music-like 3 s test signal at 16 kHz (chords + noise bursts);
- ``signal_logmel`` (n_frames, 96): its log-mel computed as ``musicnn.extractor.batch_data`` does
  (librosa melspectrogram, ``log10(10000 x + 1)``) with two deliberate differences: ``pad_mode="reflect"``
  made explicit (the librosa 0.7 default the model was trained with; newer librosa pads with zeros), and
  float32 throughout: the original's ``.astype(np.float16)`` makes ``10000 * x`` overflow to inf as soon as
  a mel power exceeds 6.55 (this very signal, peak 0.9, has 6.78 in band 5 of frame 0);
- ``patches`` (4, 187, 96): model inputs: [0] the signal's first patch, [1] seeded noise-like log-mel,
  [2] a loud patch (log-mel of a full-scale 110 Hz square wave, float32 path), [3] silence (zeros);
- for MSD_musicnn and MTT_musicnn: ``{model}/taggram`` (4, 50), ``{model}/logits`` (4, 50),
  ``{model}/penultimate`` (4, 200), ``{model}/mean_pool`` and ``{model}/max_pool`` (4, 753);
- for MSD_vgg and MTT_vgg: ``{model}/taggram`` (4, 50) and ``{model}/pool5`` (4, 256), flattened in
  TF (time, freq, channel) order.

The graph is built with musicnn's own ``models.define_model`` (tf.compat.v1, legacy Keras layers) and
restored from the checkpoint *directory* prefix ``musicnn/<MODEL>/`` (the ``checkpoint`` file in the
wheel points to the author's absolute paths, so ``latest_checkpoint`` cannot be used).
"""

from __future__ import annotations

import argparse
import os
from importlib import resources
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SR = 16000
N_FRAMES = 187
MUSICNN_MODELS = ("MSD_musicnn", "MTT_musicnn")
VGG_MODELS = ("MSD_vgg", "MTT_vgg")


def test_signal() -> np.ndarray:
    """3 s at 16 kHz: a I-IV-V chord progression of sawtooth-ish tones with noise-burst drums."""
    rng = np.random.default_rng(1234)
    t = np.arange(3 * SR) / SR
    y = np.zeros_like(t)
    for i, root in enumerate((220.0, 293.66, 329.63)):
        sel = (t >= i) & (t < i + 1)
        for ratio in (1.0, 1.25, 1.5):
            for h in range(1, 6):
                y[sel] += 0.08 / h * np.sin(2 * np.pi * root * ratio * h * t[sel])
    for start in np.arange(0, 3, 0.25):
        n0 = int(start * SR)
        n = int(0.03 * SR)
        y[n0 : n0 + n] += 0.3 * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.008 * SR))
    return (0.9 * y / np.max(np.abs(y))).astype(np.float32)


def original_logmel(y: np.ndarray, *, fp16: bool) -> np.ndarray:
    import librosa

    rep = librosa.feature.melspectrogram(
        y=y, sr=SR, hop_length=256, n_fft=512, n_mels=96, pad_mode="reflect"
    ).T
    rep = rep.astype(np.float16) if fp16 else rep.astype(np.float32)
    return np.log10(10000 * rep + 1).astype(np.float32)


def make_patches(signal_logmel: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(20261121)
    # noise-like log-mel: smooth spectral envelope + frame-to-frame fluctuation, non-negative like real input
    envelope = np.linspace(3.0, 0.5, 96)[None, :]
    noise = np.clip(envelope + 0.8 * rng.standard_normal((N_FRAMES, 96)), 0, None)
    t = np.arange(int(3.2 * SR)) / SR
    square = np.sign(np.sin(2 * np.pi * 110.0 * t)).astype(np.float32)
    loud = original_logmel(square, fp16=False)[:N_FRAMES]
    silent = np.zeros((N_FRAMES, 96))
    return np.stack([signal_logmel[:N_FRAMES], noise, loud, silent]).astype(np.float32)


def run_model(model: str, patches: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        outs = models.define_model(x, is_training, model, 50)
        taggram = tf.nn.sigmoid(outs[0])
    if "vgg" in model:
        fetch = {"taggram": taggram, "pool5": tf.compat.v1.layers.flatten(outs[5])}
    else:
        _, _, _, _, _, _, mean_pool, max_pool, penultimate = outs
        fetch = {
            "taggram": taggram,
            "logits": outs[0],
            "penultimate": penultimate,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
        }
    folder = str(resources.files("musicnn") / model) + "/"
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, folder)
        values = sess.run(fetch, feed_dict={x: patches, is_training: False})
    return {k: np.asarray(v, dtype=np.float32) for k, v in values.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/fixtures/musicnn_parity.npz"
    )
    args = ap.parse_args()

    signal = test_signal()
    signal_logmel = original_logmel(signal, fp16=False)
    patches = make_patches(signal_logmel)
    arrays: dict[str, np.ndarray] = {"signal": signal, "signal_logmel": signal_logmel, "patches": patches}
    for model in MUSICNN_MODELS + VGG_MODELS:
        for k, v in run_model(model, patches).items():
            arrays[f"{model}/{k}"] = v
            print(f"{model}/{k}: {v.shape}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
