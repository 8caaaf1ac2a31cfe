"""Cut the demo's short recordings (src/genrekit/demo_audio/) from librosa's example data.

    python tools/make_demo_audio.py [../shared/data/music_examples]

Each excerpt: a window of the original, mixed to mono, resampled to 22050 Hz, 0.5 s fades, Ogg Vorbis.
Only recordings whose licence allows redistribution with attribution (public domain, CC BY) are used; the
licences and attribution are in src/genrekit/demo_audio/LICENSES.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from genrekit.audio import load

OUT = Path(__file__).resolve().parents[1] / "src" / "genrekit" / "demo_audio"
SR = 22050
FADE_S = 0.5
#: (source file stem, output name, start s, length s)
EXCERPTS = (
    (
        "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra)",
        "brahms_hungarian_dance_5",
        0.0,
        25.0,
    ),
    (
        "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy",
        "tchaikovsky_sugar_plum_fairy",
        20.0,
        25.0,
    ),
    ("Karissa_Hobbs_-_Lets_Go_Fishin", "karissa_hobbs_lets_go_fishin", 30.0, 25.0),
)


def main(src: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    fade = int(FADE_S * SR)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    for stem, name, start, length in EXCERPTS:
        y, _ = load(src / f"{stem}.hq.ogg", sr=SR, offset_s=start, duration_s=length)
        y = y.astype(np.float32)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
        path = OUT / f"{name}.ogg"
        sf.write(path, y, SR, format="OGG", subtype="VORBIS")
        print(f"{path.name}: {len(y) / SR:.1f} s, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/music_examples"))
