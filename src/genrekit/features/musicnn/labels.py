"""The 50 tags of the pretrained musicnn models, in the exact order of the models' outputs.

Copied from ``musicnn/configuration.py`` of ``musicnn==0.1.0`` (``MSD_LABELS``, ``MTT_LABELS``): column
``i`` of a taggram (and of the ``"tags"`` output of the musicnn extractors) is the probability of tag ``i``.
``MSD_TAGS`` belong to the models trained on the Million Song Dataset (``MSD_musicnn``, ``MSD_vgg``),
``MTT_TAGS`` to those trained on MagnaTagATune (``MTT_musicnn``, ``MTT_vgg``). The spelling is the
datasets' own (``"Mellow"``, ``"Hip-Hop"``, ``"House"``, ``"Progressive rock"``); :func:`tag_slug` gives the
lower-case identifier used in feature column names (``msd_tag_hip_hop``).
"""

from __future__ import annotations

import re

__all__ = ["MIDEND_CHANNELS", "MSD_TAGS", "MTT_TAGS", "PENULTIMATE_DIM", "tag_slug", "tags_for"]

#: Widths of the musicnn outputs that name feature columns (the network re-exports them): here, so that
#: an extractor's names (read when a bundle loads) need no torch; the networks import it at first use.
MIDEND_CHANNELS = 561 + 3 * 64
PENULTIMATE_DIM = 200

MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
    "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)  # fmt: skip

MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
    "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
    "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
    "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip


def tag_slug(tag: str) -> str:
    """Lower-case identifier of a tag: runs of other characters than letters and digits become ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", tag.lower()).strip("_")


def tags_for(model: str) -> tuple[str, ...]:
    """The output tags of a musicnn model name (``"MSD_..."`` or ``"MTT_..."``)."""
    return MSD_TAGS if model.upper().startswith("MSD") else MTT_TAGS
