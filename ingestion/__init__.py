"""Documents in: loaders per format, normalisation, chunking, the incremental ingest run."""
