//! CSV bytes to UTF-8 records, defensively: the encoding is found before any row is read
//! (UTF-8, with or without BOM; GB18030 as Chinese Excel writes it; UTF-16 with a BOM) or the
//! file is refused; the text is decoded as it streams; and its structure is watched on the way,
//! so that a record longer than [`MAX_RECORD_BYTES`] or an unclosed quote that runs across a
//! line break into what reads as the next rows is refused with its row number before the CSV
//! parser can buffer it or merge the rows.

use std::io::{self, Read, Seek, SeekFrom};

use encoding_rs::{Decoder, DecoderResult, Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE};

use super::ReadError;

/// The longest record (row) accepted, in bytes of UTF-8.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// How a CSV file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub encoding: &'static Encoding,
    /// Bytes of byte-order mark to skip.
    pub bom: usize,
    pub delimiter: u8,
}

impl Shape {
    /// How the encoding is named in a report, when it is worth saying.
    pub fn notice(&self) -> Option<String> {
        let name = if self.encoding == GB18030 {
            Some("GB18030（简体中文 Excel 的\u{201c}CSV（逗号分隔）\u{201d}）")
        } else if self.encoding == UTF_16LE || self.encoding == UTF_16BE {
            Some("UTF-16（Unicode 文本）")
        } else {
            None
        };
        let delimiter = (self.delimiter == b'\t').then_some("，以制表符分隔");
        match (name, delimiter) {
            (None, None) => None,
            (n, d) => Some(format!("文件按 {}{} 读取", n.unwrap_or("UTF-8"), d.unwrap_or(""))),
        }
    }
}

/// Whether the bytes of a GB18030 file look like Chinese text: its two-byte characters fall
/// in the GB2312 block (lead and trail bytes both 0xA1–0xFE) for at least 9 in 10. Text in
/// another single-byte encoding (Latin-1 `Café`) decodes to rare characters, or not at all.
fn looks_chinese(sample_two_byte: u64, in_gb2312: u64) -> bool {
    sample_two_byte == 0 || in_gb2312 * 10 >= sample_two_byte * 9
}

/// Reads the whole file once to find its encoding and delimiter; leaves it at the start.
pub fn detect<R: Read + Seek>(source: &mut R) -> Result<Shape, ReadError> {
    let io = |e: io::Error| ReadError::Io(e.to_string());
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        let n = source.read(&mut head[got..]).map_err(io)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let head = &head[..got];
    let (encoding, bom) = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (UTF_8, 3)
    } else if head.starts_with(&[0xFF, 0xFE]) {
        (UTF_16LE, 2)
    } else if head.starts_with(&[0xFE, 0xFF]) {
        (UTF_16BE, 2)
    } else if let Some(utf16) = utf16_without_bom(source)? {
        (utf16, 0)
    } else {
        (sniff_8bit(source)?, 0)
    };
    // The delimiter: a tab-separated header (Excel's "Unicode text") has tabs and no commas.
    source.seek(SeekFrom::Start(bom as u64)).map_err(io)?;
    let mut first_line = String::new();
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buf = [0u8; 8192];
    loop {
        let n = source.read(&mut buf).map_err(io)?;
        let mut out = String::with_capacity(n * 3 + 16);
        let _ = decoder.decode_to_string(&buf[..n], &mut out, n == 0);
        first_line.push_str(&out);
        if n == 0 || first_line.contains('\n') || first_line.len() > MAX_RECORD_BYTES {
            break;
        }
    }
    let first = first_line.lines().next().unwrap_or("");
    let delimiter = if first.contains('\t') && !first.contains(',') { b'\t' } else { b',' };
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(Shape { encoding, bom, delimiter })
}

/// UTF-16 without a byte-order mark shows as text whose every other byte is zero.
fn utf16_without_bom<R: Read + Seek>(source: &mut R) -> Result<Option<&'static Encoding>, ReadError> {
    let io = |e: io::Error| ReadError::Io(e.to_string());
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut sample = Vec::with_capacity(4096);
    source.by_ref().take(4096).read_to_end(&mut sample).map_err(io)?;
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return Ok(None);
    }
    let zero_odd = sample.chunks_exact(2).filter(|p| p[1] == 0 && p[0] != 0).count();
    let zero_even = sample.chunks_exact(2).filter(|p| p[0] == 0 && p[1] != 0).count();
    Ok(if zero_odd * 10 >= pairs * 6 {
        Some(UTF_16LE)
    } else if zero_even * 10 >= pairs * 6 {
        Some(UTF_16BE)
    } else {
        None
    })
}

/// Without a byte-order mark: UTF-8 if every byte sequence is valid UTF-8, else GB18030 if it
/// decodes and looks like Chinese, else refused.
fn sniff_8bit<R: Read + Seek>(source: &mut R) -> Result<&'static Encoding, ReadError> {
    let io = |e: io::Error| ReadError::Io(e.to_string());
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut utf8 = UTF_8.new_decoder_without_bom_handling();
    let mut gb = GB18030.new_decoder_without_bom_handling();
    let (mut utf8_ok, mut gb_ok) = (true, true);
    let (mut two_byte, mut gb2312, mut pending_lead): (u64, u64, Option<u8>) = (0, 0, None);
    let mut buf = vec![0u8; 64 * 1024];
    let mut scratch = vec![0u8; 64 * 1024 * 3 + 16];
    loop {
        let n = source.read(&mut buf).map_err(io)?;
        let last = n == 0;
        if utf8_ok {
            utf8_ok = decodes(&mut utf8, &buf[..n], &mut scratch, last);
        }
        if !utf8_ok && gb_ok {
            gb_ok = decodes(&mut gb, &buf[..n], &mut scratch, last);
            for &b in &buf[..n] {
                match pending_lead.take() {
                    Some(lead) if b >= 0x40 && b != 0x7F => {
                        two_byte += 1;
                        if (0xA1..=0xFE).contains(&lead) && (0xA1..=0xFE).contains(&b) {
                            gb2312 += 1;
                        }
                    }
                    Some(_) => {}
                    None if b >= 0x81 => pending_lead = Some(b),
                    None => {}
                }
            }
        }
        if last || (!utf8_ok && !gb_ok) {
            break;
        }
    }
    source.seek(SeekFrom::Start(0)).map_err(io)?;
    if utf8_ok {
        Ok(UTF_8)
    } else if gb_ok && looks_chinese(two_byte, gb2312) {
        Ok(GB18030)
    } else {
        Err(ReadError::Encoding)
    }
}

/// Feeds `bytes` to `decoder`; false at the first malformed sequence.
fn decodes(decoder: &mut Decoder, mut bytes: &[u8], scratch: &mut [u8], last: bool) -> bool {
    loop {
        let (result, read, _) = decoder.decode_to_utf8_without_replacement(bytes, scratch, last);
        bytes = &bytes[read..];
        match result {
            DecoderResult::InputEmpty => return true,
            DecoderResult::OutputFull => continue,
            DecoderResult::Malformed(..) => return false,
        }
    }
}

/// Where the structure scan is inside a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    FieldStart,
    Unquoted,
    Quoted,
    /// Just after a quote inside a quoted field: an escaped quote, or the field's end.
    QuoteInQuoted,
}

/// The structure of the text as it streams, as the `csv` crate reads it (RFC 4180 quoting,
/// `\r`, `\n` or `\r\n` ending a record, blank lines skipped).
struct Scan {
    delimiter: u8,
    at: At,
    /// Non-blank records begun so far (the current one included): the row number the reader reports.
    row: u64,
    record_bytes: usize,
    record_started: bool,
    /// Delimiters outside quotes in the current record, and in the header.
    delimiters: usize,
    header_delimiters: Option<usize>,
    /// Inside a quoted field that has crossed a line break: the row it began on, and the
    /// delimiters seen on the current line within it.
    spanning: Option<(u64, usize)>,
}

impl Scan {
    fn new(delimiter: u8) -> Scan {
        Scan {
            delimiter,
            at: At::FieldStart,
            row: 0,
            record_bytes: 0,
            record_started: false,
            delimiters: 0,
            header_delimiters: None,
            spanning: None,
        }
    }

    fn end_record(&mut self) {
        if self.record_started && self.header_delimiters.is_none() {
            self.header_delimiters = Some(self.delimiters);
        }
        self.record_started = false;
        self.record_bytes = 0;
        self.delimiters = 0;
        self.at = At::FieldStart;
    }

    /// A line inside a quoted field has ended: does it read like a row of its own?
    fn line_in_quotes_ended(&mut self) -> Result<(), ReadError> {
        if let Some((began, delimiters)) = self.spanning {
            let width = self.header_delimiters.unwrap_or(usize::MAX);
            if delimiters >= 1 && delimiters >= width {
                return Err(ReadError::UnclosedQuote { row: began });
            }
            self.spanning = Some((began, 0));
        }
        Ok(())
    }

    /// A byte outside quotes: a delimiter, the end of the record, or part of an unquoted field.
    fn outside_quotes(&mut self, b: u8) {
        if b == self.delimiter {
            self.delimiters += 1;
            self.at = At::FieldStart;
        } else if matches!(b, b'\n' | b'\r') {
            self.end_record();
        } else {
            self.at = At::Unquoted;
        }
    }

    fn feed(&mut self, text: &[u8]) -> Result<(), ReadError> {
        for &b in text {
            if !self.record_started && !matches!(b, b'\n' | b'\r') {
                self.record_started = true;
                self.row += 1;
            }
            if self.record_started {
                self.record_bytes += 1;
                if self.record_bytes > MAX_RECORD_BYTES {
                    return Err(ReadError::RecordTooLong { row: self.row });
                }
            }
            match self.at {
                At::FieldStart if b == b'"' => self.at = At::Quoted,
                At::FieldStart | At::Unquoted => self.outside_quotes(b),
                At::Quoted => match b {
                    b'"' => self.at = At::QuoteInQuoted,
                    b'\n' => {
                        self.line_in_quotes_ended()?;
                        self.spanning.get_or_insert((self.row, 0));
                    }
                    _ if b == self.delimiter => {
                        if let Some((_, d)) = &mut self.spanning {
                            *d += 1;
                        }
                    }
                    _ => {}
                },
                At::QuoteInQuoted => {
                    self.line_in_quotes_ended()?;
                    self.spanning = None;
                    if b == b'"' {
                        self.at = At::Quoted;
                    } else {
                        self.outside_quotes(b);
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ReadError> {
        if self.at == At::Quoted {
            let row = self.spanning.map_or(self.row, |(r, _)| r);
            return Err(ReadError::UnclosedQuote { row: row.max(1) });
        }
        Ok(())
    }
}

/// The file as UTF-8, decoded as it is read, with its structure checked on the way. A problem
/// ends the stream with an error the caller takes back with [`Utf8Records::problem`].
pub struct Utf8Records<R> {
    inner: R,
    decoder: Decoder,
    scan: Scan,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_at: usize,
    done: bool,
    problem: Option<ReadError>,
}

impl<R: Read + Seek> Utf8Records<R> {
    pub fn new(mut inner: R, shape: Shape) -> Result<Utf8Records<R>, ReadError> {
        inner.seek(SeekFrom::Start(shape.bom as u64)).map_err(|e| ReadError::Io(e.to_string()))?;
        Ok(Utf8Records {
            inner,
            decoder: shape.encoding.new_decoder_without_bom_handling(),
            scan: Scan::new(shape.delimiter),
            raw: vec![0u8; 64 * 1024],
            out: Vec::new(),
            out_at: 0,
            done: false,
            problem: None,
        })
    }

    /// The structural problem that ended the stream, if one did.
    pub fn problem(&mut self) -> Option<ReadError> {
        self.problem.take()
    }

    fn refill(&mut self) -> io::Result<()> {
        let n = self.inner.read(&mut self.raw)?;
        let last = n == 0;
        self.out.clear();
        self.out_at = 0;
        let mut input = &self.raw[..n];
        loop {
            let need = self.decoder.max_utf8_buffer_length(input.len()).unwrap_or(input.len() * 3 + 16);
            let start = self.out.len();
            self.out.resize(start + need, 0);
            let (result, read, written, _) = self.decoder.decode_to_utf8(input, &mut self.out[start..], last);
            self.out.truncate(start + written);
            input = &input[read..];
            if matches!(result, encoding_rs::CoderResult::InputEmpty) {
                break;
            }
        }
        let checked = self.scan.feed(&self.out).and_then(|()| if last { self.scan.finish() } else { Ok(()) });
        if let Err(problem) = checked {
            self.problem = Some(problem);
            return Err(io::Error::other("structure"));
        }
        self.done = last;
        Ok(())
    }
}

impl<R: Read + Seek> Read for Utf8Records<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at >= self.out.len() {
            if self.done || self.problem.is_some() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn shape_of(bytes: &[u8]) -> Result<Shape, ReadError> {
        detect(&mut Cursor::new(bytes.to_vec()))
    }

    fn decoded(bytes: &[u8]) -> Result<String, ReadError> {
        let shape = shape_of(bytes)?;
        let mut r = Utf8Records::new(Cursor::new(bytes.to_vec()), shape)?;
        let mut s = String::new();
        match r.read_to_string(&mut s) {
            Ok(_) => Ok(s),
            Err(_) => Err(r.problem().unwrap_or(ReadError::Io("?".into()))),
        }
    }

    #[test]
    fn finds_the_encoding_or_refuses() {
        assert_eq!(shape_of("名称,代码\n甲,1\n".as_bytes()).unwrap().encoding, UTF_8);
        assert_eq!(shape_of(b"\xEF\xBB\xBFa,b\n").unwrap().bom, 3);
        let (gbk, _, _) = GB18030.encode("统一社会信用代码,名称\n91350100M000100Y43,哈尔滨乙公司\n");
        assert_eq!(shape_of(&gbk).unwrap().encoding, GB18030);
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "名称\t代码\n甲\t1\n".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        let shape = shape_of(&utf16).unwrap();
        assert_eq!((shape.encoding, shape.delimiter), (UTF_16LE, b'\t'));
        assert_eq!(decoded(&utf16).unwrap(), "名称\t代码\n甲\t1\n");
        let bare: Vec<u8> = "name,code\nabc,1\n".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(shape_of(&bare).unwrap().encoding, UTF_16LE);
        // Latin-1: `Café Müller` is not UTF-8, and not Chinese either.
        assert!(matches!(shape_of(b"name,code\nCaf\xe9 M\xfcller,1\n"), Err(ReadError::Encoding)));
        assert!(matches!(shape_of(b"name\nM\xfcller Stra\xdfe\n"), Err(ReadError::Encoding)));
    }

    #[test]
    fn an_unclosed_quote_that_swallows_rows_is_refused_with_its_row() {
        let text = "统一社会信用代码,名称,从业人数\n91350100M000100Y43,\"未闭合,10\n91230100MA0000001X,乙公司,20\n";
        match decoded(text.as_bytes()) {
            Err(ReadError::UnclosedQuote { row }) => assert_eq!(row, 2),
            other => panic!("{other:?}"),
        }
        // Unclosed at the very end.
        assert!(matches!(decoded("a,b\n1,\"x\n".as_bytes()), Err(ReadError::UnclosedQuote { row: 2 })));
        // A real multi-line cell and escaped quotes are fine.
        let fine = "名称,地址,备注\n甲,\"哈尔滨市\n道里区\",\"他说\"\"好\"\"\"\n乙,x,y\n";
        assert_eq!(decoded(fine.as_bytes()).unwrap(), fine);
    }

    #[test]
    fn a_record_over_the_limit_is_refused_before_it_is_buffered() {
        let mut text = b"a,b\n1,".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        assert!(matches!(decoded(&text), Err(ReadError::RecordTooLong { row: 2 })));
    }
}
