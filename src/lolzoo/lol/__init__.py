"""The five LoL models (MLP, MLP + O-Align, MLP + SVD, MLP + Dense, GL-net), their training
and evaluation (paper section 3)."""
