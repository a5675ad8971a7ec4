//! A response body written a chunk at a time from an iterator of byte chunks (a simulation's list
//! of millions of entities), so that nothing builds the whole document in memory.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use http_body::Frame;

/// The chunks of `I`, each sent as the client takes the previous one.
pub struct Chunks<I>(pub I);

impl<I: Iterator<Item = Vec<u8>> + Unpin> HttpBody for Chunks<I> {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.next().map(|chunk| Ok(Frame::data(Bytes::from(chunk)))))
    }
}

/// A CSV download named `file_name`, streamed from `chunks`.
pub fn csv_download<I>(file_name: &str, chunks: I) -> Response
where
    I: Iterator<Item = Vec<u8>> + Unpin + Send + 'static,
{
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{file_name}\"")),
        ],
        Body::new(Chunks(chunks)),
    )
        .into_response()
}
