from rest_framework.throttling import SimpleRateThrottle


class SourceRateThrottle(SimpleRateThrottle):
    """Hold each source to its own requests-per-second limit, if it has one.

    Counts live in Django's cache: Redis when REDIS_URL is set, so every web
    process shares them; otherwise each process counts on its own.
    """

    scope = "source"

    def get_rate(self) -> str | None:
        return None

    def allow_request(self, request, view) -> bool:
        source = request.auth
        limit = getattr(source, "rate_limit_per_second", None)
        if not limit:
            return True
        self.rate = f"{limit}/s"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    def wait(self) -> float:
        # Retry-After is whole seconds; never tell a client to retry at once.
        return max(1.0, super().wait() or 1.0)
