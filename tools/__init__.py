"""The pipeline's own code: one module per gate, plus the pieces they share."""
