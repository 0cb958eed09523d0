//! A request body read under a deadline (`HTTP_BODY_READ_TIMEOUT_SECONDS`): a client
//! that stops sending its body gets `408` instead of holding the request open.

use axum::BoxError;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::Sleep;

/// The body `inner`, failing with [`BodyTimeout`] when it is not read whole within
/// `timeout` of the first wait for it. Only bodies that have content are wrapped, so a
/// `GET` costs nothing.
#[derive(Debug)]
pub struct DeadlineBody<B> {
    inner: B,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<B> DeadlineBody<B> {
    /// Wraps `inner`; the clock starts at the first read that has to wait.
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            deadline: None,
        }
    }
}

/// The error of a body not received in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {} s", .0.as_secs_f64())]
pub struct BodyTimeout(Duration);

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(deadline.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimeout(timeout)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `error` (an extractor's rejection) comes from a [`BodyTimeout`].
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyTimeout>() {
            return true;
        }
        current = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use axum::extract::FromRequest as _;
    use http_body_util::BodyExt as _;

    /// A body that yields one chunk, then never ends.
    fn stalled() -> impl Body<Data = Bytes, Error = std::convert::Infallible> + Unpin {
        let first = futures::stream::once(std::future::ready(Ok(Frame::data(Bytes::from_static(
            b"{\"a\"",
        )))));
        http_body_util::StreamBody::new(futures::StreamExt::chain(
            first,
            futures::stream::pending(),
        ))
    }

    #[tokio::test]
    async fn a_stalled_body_fails_with_a_timeout_the_json_rejection_carries() {
        let body = DeadlineBody::new(stalled(), Duration::from_millis(10));
        let request = http::Request::builder()
            .header("content-type", "application/json")
            .body(axum::body::Body::new(body))
            .unwrap();
        let rejection = axum::Json::<serde_json::Value>::from_request(request, &())
            .await
            .expect_err("the body never ends");
        assert!(timed_out(&rejection), "{rejection}");
    }

    #[tokio::test]
    async fn a_complete_body_is_passed_through() {
        let inner = http_body_util::Full::new(Bytes::from_static(b"hello"));
        let body = DeadlineBody::new(inner, Duration::from_secs(30));
        assert!(!body.is_end_stream());
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
    }

    #[test]
    fn other_errors_are_not_timeouts() {
        let error = std::io::Error::other("reset");
        assert!(!timed_out(&error));
    }
}
