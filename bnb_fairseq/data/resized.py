"""Wrapper datasets whose rows are longer or shorter than the wrapped dataset's."""


class ResizedRowsMixin:
    """Batching (``sizes``, ``size``, ``num_tokens``) must see the rows this wrapper returns (cut sources,
    packed blocks), not the wrapped dataset's; subclasses set ``self._sizes``."""

    @property
    def sizes(self):
        return self._sizes

    def size(self, index):
        return self._sizes[index]

    def num_tokens(self, index):
        return self._sizes[index]
