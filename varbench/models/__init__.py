"""Keras architectures, the shared trainer and the trained-model engine."""
