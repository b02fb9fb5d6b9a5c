"""The open data portal: the federation's datasets harvested, kept by version, and served."""
