"""The directory's entrypoints: the HTTP admin and query API."""
