"""Generated worlds a lesson trains in: seeded generators of data that no download provides.

Each module makes its world from a seed alone (numpy and the standard library, no TensorFlow):
``cars`` (car listings with photos, day 4), ``phantoms`` (brain-MRI-like slices, day 6),
``dates`` (dates written many ways, day 13), ``utterances`` (assistant requests, day 15),
``scenes`` (coloured-shape scenes for captions and Sort-of-CLEVR, days 16-17),
``digit_videos`` (digit flash-card videos, day 18) and ``flappy`` (the game, day 19).
A world may use the base (``dlbootcamp.errors``) and ``dlbootcamp.data``; never a lesson,
the export layer or the app.
"""
