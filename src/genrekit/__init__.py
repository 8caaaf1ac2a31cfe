"""genrekit: tell which genre a piece of music belongs to."""
