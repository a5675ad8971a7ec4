//! Uploads received straight into a file beside the store (`imports/upload-*.part`), never
//! whole in memory; a file over the route's limit is removed and refused with 413.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::multipart::Field;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use super::AppState;
use super::error::AppError;

fn failed(e: impl std::fmt::Display) -> AppError {
    tracing::warn!("upload not received: {e}");
    AppError::bad_request("上传没有完成（连接中断或内容不完整），请重新上传")
}

/// An upload file being written.
struct Sink {
    path: PathBuf,
    file: tokio::fs::File,
    size: u64,
    limit: usize,
}

impl Sink {
    async fn open(state: &AppState, limit: usize) -> Result<Sink, AppError> {
        let path = state.svc.blocking(|s| s.upload_path()).await?;
        let file = tokio::fs::File::create(&path).await.map_err(failed)?;
        Ok(Sink { path, file, size: 0, limit })
    }

    async fn put(&mut self, chunk: &[u8]) -> Result<(), AppError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit as u64 {
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("文件过大：最多 {} MB", self.limit / 1024 / 1024),
            ));
        }
        self.file.write_all(chunk).await.map_err(failed)
    }

    /// The whole file, or — after any failure — nothing left behind.
    async fn finish(mut self, outcome: Result<(), AppError>) -> Result<(PathBuf, u64), AppError> {
        let outcome = match outcome {
            Ok(()) => self.file.flush().await.map_err(failed),
            e => e,
        };
        match outcome {
            Ok(()) => Ok((self.path, self.size)),
            Err(e) => {
                drop(self.file);
                let _ = tokio::fs::remove_file(&self.path).await;
                Err(e)
            }
        }
    }
}

/// A request body as an upload file, with its size.
pub async fn receive_body(state: &AppState, mut body: Body, limit: usize) -> Result<(PathBuf, u64), AppError> {
    let mut sink = Sink::open(state, limit).await?;
    let outcome = async {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(failed)?.into_data() {
                sink.put(&data).await?;
            }
        }
        Ok(())
    }
    .await;
    sink.finish(outcome).await
}

/// A multipart field as an upload file, with its size.
pub async fn receive_field(state: &AppState, mut field: Field<'_>, limit: usize) -> Result<(PathBuf, u64), AppError> {
    let mut sink = Sink::open(state, limit).await?;
    let outcome = async {
        while let Some(chunk) = field.chunk().await.map_err(super::pages::upload_error)? {
            sink.put(&chunk).await?;
        }
        Ok(())
    }
    .await;
    sink.finish(outcome).await
}
