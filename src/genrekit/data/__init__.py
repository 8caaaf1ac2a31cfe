"""The data floor: what genrekit reads before any feature is computed, and how it is split.

``tracks`` (Track, Dataset, groups, segments, fingerprint) <- ``folders`` (folder trees, manifests,
scans, walking with ``sources``) and ``splits`` (every split rule and the one ``Split`` type);
``sources`` (the one folder walker; batch inputs); ``cells`` <- ``tables`` (reading and cleaning
labelled feature tables, with ``cleaning``); ``featureset`` (segment features with labels and groups).
"""
