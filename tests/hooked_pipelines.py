"""A Redis client whose pipelines can be stepped into: for tests that put another worker's
write at the one moment a race needs (between a step's reads and its MULTI, say), in process,
where it can be timed exactly and mutation testing can see it."""

from __future__ import annotations


class HookedPipelines:
    """Wraps a client; subclasses override `multi` or `execute`, which get the real pipeline."""

    def __init__(self, client):
        self.client = client

    def __getattr__(self, name):
        return getattr(self.client, name)

    def multi(self, real):
        return real.multi()

    def execute(self, real, *args, **kwargs):
        return real.execute(*args, **kwargs)

    def pipeline(self, *args, **kwargs):
        real, hooks = self.client.pipeline(*args, **kwargs), self

        class Pipe:
            def __getattr__(self, name):
                return getattr(real, name)

            def __len__(self):
                return len(real)

            def __enter__(self):
                real.__enter__()
                return self

            def __exit__(self, *exc):
                return real.__exit__(*exc)

            def multi(self):
                return hooks.multi(real)

            def execute(self, *args, **kwargs):
                return hooks.execute(real, *args, **kwargs)

        return Pipe()
