"""hnnbench: sampled (backprop-free) versus Adam training of Hamiltonian neural networks."""

__version__ = "0.1.0"
