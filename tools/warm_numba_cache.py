"""Compile librosa's numba kernels once, in one process, right after installation.

numba's on-disk cache can be corrupted when several processes compile the same kernel at the same time
(numba issue 10128), which later segfaults the interpreter. Running each cached kernel once here, before
any test or batch runs in parallel, writes the cache files from a single process.
"""

from __future__ import annotations

import numpy as np


def main() -> None:
    import librosa

    sr = 22050
    y = (0.1 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
    librosa.feature.chroma_stft(y=y, sr=sr)
    librosa.onset.onset_detect(y=y, sr=sr)
    librosa.beat.beat_track(y=y, sr=sr)
    librosa.effects.hpss(y)
    librosa.feature.mfcc(y=y, sr=sr)
    librosa.estimate_tuning(y=y, sr=sr)
    print("numba kernels compiled")


if __name__ == "__main__":
    main()
