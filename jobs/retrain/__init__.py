"""Feedback-driven retraining: fine-tune the production model on its training data
plus verified reviewer feedback, gate the challenger, promote only if it is better."""
