"""What the workflow's report shows beside the comparison tables: figures and per-zoo summaries."""
