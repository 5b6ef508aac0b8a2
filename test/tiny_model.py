"""The small model configuration the tests export random-weight bundles with (fast to build,
export and run; not a useful policy)."""

SMALL = dict(
    image_height=32,
    image_width=32,
    cnn_channels=(8, 16),
    d_model=32,
    num_layers=2,
    num_heads=2,
    context_length=4,
)
