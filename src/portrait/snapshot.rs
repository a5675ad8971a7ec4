//! The portrait snapshot: every column of the portrait in one file beside the store
//! (`portrait.snap`), so that start-up reads a few hundred bytes per entity in long sequential
//! reads instead of decoding every entity's record from redb.
//!
//! Layout (little-endian): the magic `HQPORTRT`, the format version (u32), the header (the
//! layout fingerprint, the entity count, and the store state it reflects — schema version and
//! the change-log row, see `store::portrait_log`) and its CRC-32; then sections, each its
//! element type tag (u8), element count (u64), byte length (u64), CRC-32 of its bytes and the
//! bytes; then the end marker. Any mismatch — magic, version, fingerprint, checksum, length —
//! refuses the whole file; the caller then rebuilds from the store. The file is written to a
//! temporary name, flushed and renamed, so a crash leaves the old snapshot or none.
//!
//! Every column goes through [`Elem`], one small implementation per element type: changing a
//! column's type (say the numbers from `f64` to fixed-point `i64`) changes the type of the
//! column and nothing here; the element tag in each section refuses files of the old type.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::{ENUM_FIELDS, FLAG_FIELDS, NUM_FIELDS, Portrait, TagColumn, enum_keys, industry_table};

/// The file name of the snapshot inside the data directory.
pub const FILE_NAME: &str = "portrait.snap";
const MAGIC: &[u8; 8] = b"HQPORTRT";
const END: &[u8; 8] = b"HQPEND\0\0";
/// Bump when the meaning of a column changes without its type or the field lists changing.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes read or written per call.
const IO_CHUNK: usize = 4 << 20;

/// The store state a snapshot reflects: the schema version and the change-log row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub schema_version: u64,
    pub seq: u64,
    pub nonce: u64,
}

/// Why a snapshot file was not used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("no snapshot")]
    Missing,
    #[error("cannot read or write the snapshot: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a portrait snapshot")]
    Foreign,
    #[error("snapshot format {0}, this program reads {FORMAT_VERSION}")]
    Version(u32),
    #[error("snapshot of another field layout (another version of huiqi)")]
    Layout,
    #[error("snapshot damaged: {0}")]
    Corrupt(String),
}

type Result<T> = std::result::Result<T, SnapshotError>;

fn corrupt(why: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(why.into())
}

/// An element type of a column: its tag in the file and its little-endian bytes.
pub trait Elem: Copy {
    const TAG: u8;
    const SIZE: usize;
    fn put(self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

macro_rules! elem_le {
    ($($t:ty => $tag:expr),+ $(,)?) => {
        $(impl Elem for $t {
            const TAG: u8 = $tag;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(b: &[u8]) -> Self {
                let mut a = [0u8; std::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
        })+
    };
}
elem_le!(u8 => 1, u16 => 2, u32 => 3, i32 => 4, u64 => 5, i64 => 6, f64 => 7);

impl Elem for [u8; 18] {
    const TAG: u8 = 8;
    const SIZE: usize = 18;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self);
    }
    fn get(b: &[u8]) -> Self {
        let mut a = [0u8; 18];
        a.copy_from_slice(b);
        a
    }
}

/// What a snapshot depends on besides its own columns: the field lists, the vocabularies and
/// the industry table (columns hold indexes into them).
pub fn fingerprint() -> u64 {
    let mut h = crc32fast::Hasher::new();
    let mut h2 = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    let mut feed = |s: &str| {
        h.update(s.as_bytes());
        h.update(&[0]);
        h2.update(s.as_bytes());
        h2.update(&[1]);
    };
    for f in NUM_FIELDS.iter().chain(&ENUM_FIELDS).chain(&FLAG_FIELDS) {
        feed(&format!("{f:?}"));
    }
    // Numbers are integers at these scales (money in fen).
    for scale in crate::model::portrait_record::NUM_SCALES {
        feed(&scale.to_string());
    }
    for f in ENUM_FIELDS {
        for k in enum_keys(f) {
            feed(k);
        }
    }
    for c in industry_table() {
        feed(c);
    }
    (u64::from(h.finalize()) << 32) | u64::from(h2.finalize())
}

/// Writes sections, each with its checksum.
struct Writer<W: Write> {
    w: W,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    fn column<T: Elem>(&mut self, col: &[T]) -> Result<()> {
        self.buf.clear();
        self.buf.reserve(col.len() * T::SIZE);
        for v in col {
            v.put(&mut self.buf);
        }
        self.section(T::TAG, col.len() as u64)
    }

    fn strings(&mut self, items: &[&str]) -> Result<()> {
        self.buf.clear();
        for s in items {
            self.buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(s.as_bytes());
        }
        self.section(0, items.len() as u64)
    }

    fn section(&mut self, tag: u8, count: u64) -> Result<()> {
        self.w.write_all(&[tag])?;
        self.w.write_all(&count.to_le_bytes())?;
        self.w.write_all(&(self.buf.len() as u64).to_le_bytes())?;
        self.w.write_all(&crc32fast::hash(&self.buf).to_le_bytes())?;
        for chunk in self.buf.chunks(IO_CHUNK) {
            self.w.write_all(chunk)?;
        }
        Ok(())
    }
}

/// Reads sections, checking each checksum.
struct Reader<R: Read> {
    r: R,
    buf: Vec<u8>,
    /// The file's length: no section may claim more.
    left: u64,
}

impl<R: Read> Reader<R> {
    fn exact(&mut self, n: usize) -> Result<()> {
        if n as u64 > self.left {
            return Err(corrupt("a section runs past the end of the file"));
        }
        self.buf.clear();
        self.buf.resize(n, 0);
        self.r.read_exact(&mut self.buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => corrupt("the file ends early"),
            _ => SnapshotError::Io(e),
        })?;
        self.left -= n as u64;
        Ok(())
    }

    /// The next section's bytes (in `buf`) and element count, checked against `tag`.
    fn section(&mut self, tag: u8, size: usize) -> Result<usize> {
        self.exact(1 + 8 + 8 + 4)?;
        let found = self.buf[0];
        let count = u64::get(&self.buf[1..9]);
        let len = u64::get(&self.buf[9..17]);
        let crc = u32::get(&self.buf[17..21]);
        if found != tag {
            return Err(SnapshotError::Layout);
        }
        if size > 0 && count.checked_mul(size as u64) != Some(len) {
            return Err(corrupt("a section's length does not match its count"));
        }
        let len = usize::try_from(len).map_err(|_| corrupt("a section is too long"))?;
        self.exact(len)?;
        if crc32fast::hash(&self.buf) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        usize::try_from(count).map_err(|_| corrupt("a section is too long"))
    }

    fn column<T: Elem>(&mut self) -> Result<Vec<T>> {
        self.section(T::TAG, T::SIZE)?;
        Ok(self.buf.chunks_exact(T::SIZE).map(T::get).collect())
    }

    fn column_of<T: Elem>(&mut self, n: usize) -> Result<Vec<T>> {
        let v = self.column::<T>()?;
        if v.len() == n { Ok(v) } else { Err(corrupt("a column does not have one value per entity")) }
    }

    fn strings(&mut self) -> Result<Vec<String>> {
        let n = self.section(0, 0)?;
        let mut out = Vec::with_capacity(n.min(1 << 16));
        let mut at = 0usize;
        for _ in 0..n {
            let len = self.buf.get(at..at + 4).map(u32::get).ok_or_else(|| corrupt("a name is cut"))? as usize;
            let s = self.buf.get(at + 4..at + 4 + len).ok_or_else(|| corrupt("a name is cut"))?;
            out.push(String::from_utf8(s.to_vec()).map_err(|_| corrupt("a name is not UTF-8"))?);
            at += 4 + len;
        }
        Ok(out)
    }
}

fn header(p: &Portrait, m: Marker) -> Vec<u8> {
    let mut h = Vec::with_capacity(48);
    for v in [fingerprint(), p.len() as u64, m.schema_version, m.seq, m.nonce] {
        v.put(&mut h);
    }
    h
}

/// Writes the snapshot of `p` reflecting `marker` to `path`: a temporary file beside it,
/// flushed, then renamed over it. Answers the bytes written.
pub fn write(p: &Portrait, marker: Marker, path: &Path) -> Result<u64> {
    begin(p, marker, path)?.finish()
}

/// A snapshot written to its temporary file, not yet flushed to disk nor in place.
pub struct Pending {
    file: std::fs::File,
    tmp: PathBuf,
    path: PathBuf,
}

impl Pending {
    /// Flushes the file to disk and renames it over the snapshot; answers its bytes.
    pub fn finish(self) -> Result<u64> {
        let done = (|| {
            self.file.sync_all()?;
            let bytes = self.file.metadata()?.len();
            std::fs::rename(&self.tmp, &self.path)?;
            if let Some(dir) = self.path.parent()
                && let Ok(d) = std::fs::File::open(dir)
            {
                let _ = d.sync_all();
            }
            Ok(bytes)
        })();
        if done.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        done
    }
}

/// Writes the columns of `p` to a temporary file beside `path` (into the page cache: quick,
/// so the caller may hold a lock meanwhile); [`Pending::finish`] does the slow part.
pub fn begin(p: &Portrait, marker: Marker, path: &Path) -> Result<Pending> {
    let tmp = temp_path(path);
    match write_to(p, marker, &tmp) {
        Ok(file) => Ok(Pending { file, tmp, path: path.to_path_buf() }),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

fn write_to(p: &Portrait, marker: Marker, tmp: &Path) -> Result<std::fs::File> {
    let file = std::fs::File::create(tmp)?;
    let mut w = Writer { w: BufWriter::with_capacity(IO_CHUNK, file), buf: Vec::new() };
    w.w.write_all(MAGIC)?;
    w.w.write_all(&FORMAT_VERSION.to_le_bytes())?;
    let h = header(p, marker);
    w.w.write_all(&h)?;
    w.w.write_all(&crc32fast::hash(&h).to_le_bytes())?;
    w.column(&p.ids)?;
    w.column(&p.codes)?;
    for c in &p.num {
        w.column(c)?;
    }
    w.column(&p.established_ymd)?;
    for c in &p.enums {
        w.column(c)?;
    }
    for c in &p.flags {
        w.column(c)?;
    }
    w.column(&p.region)?;
    w.column(&p.industry)?;
    let mut keys: Vec<(&str, usize)> = p.tag_index.iter().map(|(k, i)| (k.as_str(), *i)).collect();
    keys.sort_by_key(|(_, i)| *i);
    w.strings(&keys.iter().map(|(k, _)| *k).collect::<Vec<_>>())?;
    for (_, slot) in &keys {
        let t = &p.tags[*slot];
        w.column(&t.bits)?;
        let mut dated: Vec<(u32, (i32, i32))> = t.dates.iter().map(|(r, d)| (*r, *d)).collect();
        dated.sort_unstable_by_key(|(r, _)| *r);
        w.column(&dated.iter().map(|(r, _)| *r).collect::<Vec<_>>())?;
        w.column(&dated.iter().map(|(_, d)| d.0).collect::<Vec<_>>())?;
        w.column(&dated.iter().map(|(_, d)| d.1).collect::<Vec<_>>())?;
    }
    w.w.write_all(END)?;
    w.w.into_inner().map_err(|e| SnapshotError::Io(e.into_error()))
}

/// Reads the snapshot at `path`: the portrait and the store state it reflects.
pub fn read(path: &Path) -> Result<(Portrait, Marker)> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SnapshotError::Missing),
        Err(e) => return Err(e.into()),
    };
    let left = file.metadata()?.len();
    let mut r = Reader { r: BufReader::with_capacity(IO_CHUNK, file), buf: Vec::new(), left };
    r.exact(8).map_err(|_| SnapshotError::Foreign)?;
    if r.buf != MAGIC {
        return Err(SnapshotError::Foreign);
    }
    r.exact(4)?;
    let version = u32::get(&r.buf);
    if version != FORMAT_VERSION {
        return Err(SnapshotError::Version(version));
    }
    r.exact(5 * 8 + 4)?;
    if crc32fast::hash(&r.buf[..40]) != u32::get(&r.buf[40..]) {
        return Err(corrupt("header checksum mismatch"));
    }
    let h: Vec<u64> = r.buf[..40].chunks_exact(8).map(u64::get).collect();
    if h[0] != fingerprint() {
        return Err(SnapshotError::Layout);
    }
    let n = usize::try_from(h[1]).map_err(|_| corrupt("entity count"))?;
    let marker = Marker { schema_version: h[2], seq: h[3], nonce: h[4] };

    let mut p = Portrait::new();
    p.ids = r.column_of(n)?;
    p.codes = r.column_of(n)?;
    for c in &mut p.num {
        *c = r.column_of(n)?;
    }
    p.established_ymd = r.column_of(n)?;
    for c in &mut p.enums {
        *c = r.column_of(n)?;
    }
    for c in &mut p.flags {
        *c = r.column_of(n)?;
    }
    p.region = r.column_of(n)?;
    p.industry = r.column_of(n)?;
    let keys = r.strings()?;
    for key in keys {
        let bits: Vec<u64> = r.column()?;
        if bits.len() > n.div_ceil(64) {
            return Err(corrupt("a tag has more rows than the portrait"));
        }
        let rows: Vec<u32> = r.column()?;
        let since: Vec<i32> = r.column_of(rows.len())?;
        let until: Vec<i32> = r.column_of(rows.len())?;
        let dates: super::RowDates =
            rows.into_iter().zip(since.into_iter().zip(until)).filter(|(row, _)| (*row as usize) < n).collect();
        if p.tag_index.insert(key, p.tags.len()).is_some() {
            return Err(corrupt("a tag is listed twice"));
        }
        p.tags.push(TagColumn { bits, dates });
    }
    r.exact(END.len())?;
    if r.buf != END || r.left != 0 {
        return Err(corrupt("the file does not end where it should"));
    }
    p.index_rows().map_err(corrupt)?;
    Ok((p, marker))
}
