//! Reading a file on a thread of its own: rows are handed over in chunks through a bounded
//! channel and handed back to be filled again, so that decoding the file and what is done with
//! its rows run on two cores, with memory bounded by the chunks in flight and no allocation per
//! row once the buffers have grown.

use std::io::{Read, Seek};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::{Format, ReadError, for_each_row};

/// Rows per chunk.
pub const CHUNK_ROWS: usize = 512;
/// Chunks filled and waiting for the consumer at most.
const IN_FLIGHT: usize = 4;

/// Rows as [`for_each_row`] gives them, a chunk at a time; its buffers are reused.
#[derive(Debug, Default)]
pub struct RowChunk {
    rows: Vec<(u64, Vec<String>)>,
    len: usize,
}

impl RowChunk {
    fn push(&mut self, row: u64, cells: &[String]) {
        if self.len == self.rows.len() {
            self.rows.push((0, Vec::new()));
        }
        let (n, kept) = &mut self.rows[self.len];
        *n = row;
        kept.resize_with(cells.len(), String::new);
        for (dst, src) in kept.iter_mut().zip(cells) {
            dst.clear();
            dst.push_str(src);
        }
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The rows, in file order, with their row numbers.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[String])> {
        self.rows[..self.len].iter().map(|(n, cells)| (*n, cells.as_slice()))
    }
}

/// Why the reading thread stopped early.
enum Stop {
    Read(ReadError),
    /// The consumer stopped taking chunks.
    Gone,
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Self {
        Stop::Read(e)
    }
}

fn reader<R: Read + Seek>(
    source: R,
    format: Format,
    full: SyncSender<RowChunk>,
    empty: Receiver<RowChunk>,
) -> Result<Vec<String>, Stop> {
    let mut chunk = RowChunk::default();
    let outcome = for_each_row(source, format, |row, cells| {
        chunk.push(row, cells);
        if chunk.len >= CHUNK_ROWS {
            let mut next = empty.try_recv().unwrap_or_default();
            next.len = 0;
            full.send(std::mem::replace(&mut chunk, next)).map_err(|_| Stop::Gone)?;
        }
        Ok::<_, Stop>(())
    });
    // The rows read before a problem are delivered before the problem is.
    if chunk.len > 0 && !matches!(outcome, Err(Stop::Gone)) {
        full.send(chunk).map_err(|_| Stop::Gone)?;
    }
    outcome
}

/// Reads `source` on a second thread and calls `consume` on this one with each chunk of rows
/// (header first, as [`for_each_row`] gives them), in order. Stops at the first error of either;
/// returns the notices of [`for_each_row`].
/// `f` over a chunk's `rows`, in order, half of them on a second thread: rows parse
/// independently, and the import's check and its parsing thread each have a core to share.
pub fn map_in_two<'r, T: Send>(rows: &[(u64, &'r [String])], f: impl Fn(u64, &'r [String]) -> T + Sync) -> Vec<T> {
    let run = |rows: &[(u64, &'r [String])]| -> Vec<T> { rows.iter().map(|(row, cells)| f(*row, cells)).collect() };
    if rows.len() < 64 {
        return run(rows);
    }
    let (first, second) = rows.split_at(rows.len() / 2);
    std::thread::scope(|s| {
        let other = s.spawn(|| run(second));
        let mut out = run(first);
        // `f` does not panic; if it ever did, the second half is done again here.
        out.extend(other.join().unwrap_or_else(|_| run(second)));
        out
    })
}

pub fn read_chunks<R, E>(
    source: R,
    format: Format,
    mut consume: impl FnMut(&RowChunk) -> Result<(), E>,
) -> Result<Vec<String>, E>
where
    R: Read + Seek + Send,
    E: From<ReadError>,
{
    std::thread::scope(|s| {
        let (full_tx, full_rx) = sync_channel::<RowChunk>(IN_FLIGHT);
        let (empty_tx, empty_rx) = sync_channel::<RowChunk>(IN_FLIGHT + 2);
        let reading = s.spawn(move || reader(source, format, full_tx, empty_rx));
        let mut consumed = Ok(());
        for chunk in full_rx.iter() {
            consumed = consume(&chunk);
            if consumed.is_err() {
                break;
            }
            // A full return channel only means the reader has buffers enough.
            let _ = empty_tx.try_send(chunk);
        }
        drop(full_rx);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(Stop::Read(ReadError::Io("the file reader stopped unexpectedly".into()))));
        consumed?;
        match read {
            Ok(notices) => Ok(notices),
            Err(Stop::Read(e)) => Err(e.into()),
            // The consumer never stops without an error, which was returned above.
            Err(Stop::Gone) => Ok(Vec::new()),
        }
    })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn map_in_two_keeps_the_rows_in_order() {
        let cells: Vec<Vec<String>> = (0..1000).map(|i| vec![i.to_string()]).collect();
        for n in [0, 1, 63, 64, 65, 1000] {
            let rows: Vec<(u64, &[String])> =
                cells[..n].iter().enumerate().map(|(i, c)| (i as u64, c.as_slice())).collect();
            let got = map_in_two(&rows, |row, cells| (row, cells[0].clone()));
            let want: Vec<(u64, String)> = (0..n).map(|i| (i as u64, i.to_string())).collect();
            assert_eq!(got, want, "{n} rows");
        }
    }

    fn all_rows(bytes: &[u8]) -> Result<Vec<(u64, Vec<String>)>, ReadError> {
        let mut out = Vec::new();
        read_chunks(Cursor::new(bytes), Format::Csv, |chunk| {
            out.extend(chunk.iter().map(|(n, cells)| (n, cells.to_vec())));
            Ok::<_, ReadError>(())
        })?;
        Ok(out)
    }

    #[test]
    fn chunks_give_every_row_in_order_as_the_reader_does() {
        let mut text = String::from("credit_code,name\n");
        for i in 0..(CHUNK_ROWS * 3 + 7) {
            text.push_str(&format!("code{i},name{i}\n"));
            if i % 100 == 0 {
                text.push_str(",\n");
            }
        }
        let mut direct = Vec::new();
        for_each_row(Cursor::new(text.as_bytes()), Format::Csv, |n, cells| {
            direct.push((n, cells.to_vec()));
            Ok::<_, ReadError>(())
        })
        .unwrap();
        let chunked = all_rows(text.as_bytes()).unwrap();
        assert_eq!(chunked.len(), CHUNK_ROWS * 3 + 8);
        assert_eq!(chunked, direct);
    }

    #[test]
    fn a_broken_file_gives_its_rows_then_its_error_as_the_reader_does() {
        let mut text = String::from("a,b\n");
        for i in 0..(CHUNK_ROWS + 10) {
            text.push_str(&format!("{i},x\n"));
        }
        text.push_str("3,\"unclosed\n4,5\n");
        let mut direct = 0;
        let direct_err = for_each_row(Cursor::new(text.as_bytes()), Format::Csv, |_, _| {
            direct += 1;
            Ok::<_, ReadError>(())
        })
        .unwrap_err();
        let mut seen = 0;
        let err = read_chunks(Cursor::new(text.as_bytes()), Format::Csv, |chunk| {
            seen += chunk.len();
            Ok::<_, ReadError>(())
        })
        .unwrap_err();
        assert_eq!(err.to_string(), direct_err.to_string());
        assert_eq!(seen, direct, "the rows before the problem are delivered first");
    }

    #[test]
    fn a_consumer_that_stops_stops_the_reader() {
        let mut text = String::from("a\n");
        for i in 0..(CHUNK_ROWS * 20) {
            text.push_str(&format!("{i}\n"));
        }
        let mut chunks = 0;
        let err = read_chunks(Cursor::new(text.as_bytes()), Format::Csv, |_| {
            chunks += 1;
            if chunks == 2 { Err(ReadError::Empty) } else { Ok(()) }
        })
        .unwrap_err();
        assert!(matches!(err, ReadError::Empty));
        assert_eq!(chunks, 2);
    }
}
