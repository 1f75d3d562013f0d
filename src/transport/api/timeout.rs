//! `--request-timeout`: every REST request but an upload is answered within it, and the answer
//! says whose side was slow.
//!
//! A request can run long for two reasons. Its client may still be sending the body (a slow or
//! stalled link, or a client holding the connection on purpose): that is the client's doing,
//! and it gets what a stalled upload gets, 408 `request_timeout` with `Connection: close` (the
//! rest of that body is not coming, so the connection cannot carry another request). Or the
//! body is in and the handler is still working (a storage engine that cannot keep up, a lock
//! held too long): that is the server's failure, and it stays 500 `internal`, logged. Not 503:
//! the handler may already have queued a write that commits after the answer, so "try again"
//! could store a message twice; 500 says only that the outcome is unknown.
//!
//! Which of the two it was is read from the body itself: the request's body is wrapped so that
//! it records whether the handler was waiting on it (its last read returned `Pending` and the
//! end had not come) when the time ran out. The cost is one small allocation per request.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};

use crate::AppState;
use crate::error::ApiError;

/// The route that is exempt: a 10 MiB file over a slow link legitimately takes longer, and
/// `--upload-idle-timeout` and `--upload-min-rate` bound it instead.
const UPLOAD_PATH: &str = "/chat/upload_media";

pub async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit: Duration = state.config.request_timeout;
    if request.uri().path().starts_with(UPLOAD_PATH) {
        return next.run(request).await;
    }
    let path = request.uri().path().to_string();
    let reading = Arc::new(AtomicU8::new(IDLE));
    let request = request.map(|body| Body::new(Watched { body, reading: reading.clone() }));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) if reading.load(Ordering::Acquire) == WAITING => ApiError::RequestTimeout(format!(
            "The request body did not arrive within {} seconds; the request was abandoned.",
            limit.as_secs_f64()
        ))
        .into_response(),
        Err(_) => ApiError::internal(format!("request to {path} timed out after {limit:?}")).into_response(),
    }
}

/// Nobody is waiting on the body: not read yet, or its last read brought something.
const IDLE: u8 = 0;
/// The handler's last read of the body found nothing there yet.
const WAITING: u8 = 1;
/// The body has ended.
const DONE: u8 = 2;

/// A request body that records whether its reader is waiting on it.
struct Watched {
    body: Body,
    reading: Arc<AtomicU8>,
}

impl hyper::body::Body for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        let state = match &polled {
            Poll::Pending => WAITING,
            Poll::Ready(None) => DONE,
            Poll::Ready(Some(_)) if self.body.is_end_stream() => DONE,
            Poll::Ready(Some(_)) => IDLE,
        };
        self.reading.store(state, Ordering::Release);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use futures_util::StreamExt;

    /// A body whose sender stops half-way leaves its reader waiting; a complete one does not.
    #[tokio::test]
    async fn a_reader_waiting_on_a_stalled_body_is_seen() {
        let half = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"{\"half\":"))]);
        let stalled = Body::from_stream(half.chain(futures_util::stream::pending()));
        let reading = Arc::new(AtomicU8::new(IDLE));
        let watched = Body::new(Watched { body: stalled, reading: reading.clone() });
        let read = tokio::time::timeout(Duration::from_millis(50), to_bytes(watched, 1024)).await;
        assert!(read.is_err(), "the body never ends");
        assert_eq!(reading.load(Ordering::Acquire), WAITING);

        let reading = Arc::new(AtomicU8::new(IDLE));
        let watched = Body::new(Watched { body: Body::from("{}"), reading: reading.clone() });
        assert_eq!(to_bytes(watched, 1024).await.unwrap(), Bytes::from_static(b"{}"));
        assert_eq!(reading.load(Ordering::Acquire), DONE);
    }
}
