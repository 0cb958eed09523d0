//! Reading Auth0's answers with a size cap: a body is read chunk by chunk and the read is
//! abandoned (the connection dropped) as soon as it passes the cap, so a hostile or broken
//! tenant cannot make the service buffer an unbounded answer.

use bytes::{Bytes, BytesMut};

/// Largest body accepted from the Authentication API or the JWKS endpoint.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the cap.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The body did not arrive within the call's timeout.
    #[error("the answer did not arrive in time")]
    Timeout,
    /// The connection failed while reading.
    #[error("the answer could not be read: {0}")]
    Read(String),
}

/// Reads `response`'s body, refusing it once it passes `limit` bytes (a declared
/// `Content-Length` over the limit is refused before reading anything).
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let declared = response.content_length().unwrap_or(0);
    if declared > u64::try_from(limit).unwrap_or(u64::MAX) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(BodyError::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(error) if error.is_timeout() => return Err(BodyError::Timeout),
            Err(error) => return Err(BodyError::Read(error.without_url().to_string())),
        }
    }
}
