"""The JSON API (Litestar): routes per audience, auth, and the problem+json error model."""
