"""BPO: black-box prompt optimization, rewriting the user's prompt before the backend call."""
