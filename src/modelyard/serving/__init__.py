"""The data plane: scorers that follow promotions, codecs for each wire format."""
