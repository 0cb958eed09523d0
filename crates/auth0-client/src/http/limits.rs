//! Bounds on the request head, enforced inside axum so that the refusal is the JSON
//! error body: a target over [`MAX_URI_LEN`] is `414`, headers over
//! [`MAX_HEADER_BYTES`] in all are `431`.
//!
//! Both sit well below hyper's own limits (a head that does not fit its ~400 KB read
//! buffer, more than 100 headers, a target over 64 KB, a malformed request line):
//! hyper refuses those before any handler runs, with an empty body.

use super::error::ApiError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Largest request body accepted by default (routes may set their own limit).
pub const BODY_LIMIT: usize = 256 * 1024;
/// Longest request target (path and query) accepted, in bytes.
pub const MAX_URI_LEN: usize = 8 * 1024;
/// Most header bytes accepted (names and values), in bytes.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// The middleware: refuses an over-long target or oversized headers before routing
/// the request further.
pub async fn request_head_limits(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_URI_LEN {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!(
                "The request target is over the {} KiB limit.",
                MAX_URI_LEN / 1024
            ),
        )
        .into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "The request headers are over the {} KiB limit.",
                MAX_HEADER_BYTES / 1024
            ),
        )
        .into_response();
    }
    next.run(request).await
}
