"""Fine-tuning the small rewriting models: BPO prompt rewriter and Aligner corrector."""
