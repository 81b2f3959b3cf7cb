"""Where Task calls go: routing, and the targets that carry them out."""
