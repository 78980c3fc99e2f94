"""Loading: asv's files and the side inputs, read and judged into one tidy frame (``results``)
and the problems met on the way; nothing here decides what the numbers mean."""
