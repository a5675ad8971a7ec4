//! Backups over JSON: make one now, list them, download one (streamed from disk). A backup
//! holds every record, personal data included: system administrators only, downloads audited.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::Json;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use http_body::{Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use super::ApiResult;
use crate::auth::{Access, Permission};
use crate::http::AppState;
use crate::http::error::{ApiError, AppError};
use crate::http::extract::Viewer;
use crate::http::routes::Routes;

pub fn routes() -> Routes {
    let backup = Access::Needs(Permission::Backup);
    Routes::new().get("/api/v1/backups", backup, backups_index).post("/api/v1/backups", backup, backups_create).get(
        "/api/v1/backups/{name}",
        backup,
        backups_download,
    )
}

async fn backups_index(State(state): State<AppState>) -> ApiResult {
    Ok(Json(state.svc.blocking(|s| s.backups()).await?).into_response())
}

/// `POST /backups`: a backup made, verified and kept in the backup directory now.
async fn backups_create(State(state): State<AppState>, viewer: Viewer) -> ApiResult {
    let made = state.call(&viewer, move |s, who| s.backup_create(who)).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// `GET /backups/{name}`: the file, streamed.
async fn backups_download(State(state): State<AppState>, viewer: Viewer, Path(name): Path<String>) -> ApiResult {
    let (file, path) = state.call(&viewer, move |s, who| s.backup_download(who, &name)).await?;
    let opened = tokio::fs::File::open(&path).await.map_err(|e| {
        tracing::error!("cannot open the backup {}: {e}", path.display());
        ApiError(AppError::new(StatusCode::NOT_FOUND, format!("备份「{}」已不存在（可能刚被轮换删除）", file.name)))
    })?;
    let body = FileBody { file: opened, left: file.size, buf: vec![0; 256 * 1024].into_boxed_slice() };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, file.size.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file.name)),
        ],
        Body::new(body),
    )
        .into_response())
}

/// A file read in chunks as the client takes them (tokio's file reads run off the runtime).
struct FileBody {
    file: tokio::fs::File,
    /// Bytes still to send: the size when the download began (backups never grow).
    left: u64,
    buf: Box<[u8]>,
}

impl HttpBody for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = this.buf.len().min(usize::try_from(this.left).unwrap_or(usize::MAX));
        let mut read = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if read.filled().is_empty() => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the backup file became shorter while it was sent",
            )))),
            Poll::Ready(Ok(())) => {
                let chunk = Bytes::copy_from_slice(read.filled());
                this.left -= chunk.len() as u64;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
