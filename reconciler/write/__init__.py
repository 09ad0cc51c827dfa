"""How planned writes reach QBO: the pipeline, batches, look-before-create, one writer per kind."""
