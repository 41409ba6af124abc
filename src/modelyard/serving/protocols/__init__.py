"""One codec per wire format; each decodes to a checked DataFrame and encodes predictions."""
