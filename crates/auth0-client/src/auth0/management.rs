//! Auth0 Management API v2 client: cached M2M token, rate limits, error mapping.
