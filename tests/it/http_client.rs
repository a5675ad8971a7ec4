//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream`, for talking to the real binary
//! and to chromedriver without pulling in an HTTP client crate. One request per connection
//! (`Connection: close`), the body read to EOF, chunked transfer encoding decoded.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connect, a read or a write may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `name=value` part of the Set-Cookie header for cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find(|(_, v)| v.starts_with(&prefix))
            .and_then(|(_, v)| v.split(';').next())
            .map(str::to_string)
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Splits `http://host:port/path?query` into `host:port` and `/path?query`.
fn split_url(url: &str) -> io::Result<(&str, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("only http:// URLs: {url}")))?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if authority.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("no host in {url}")));
    }
    Ok((authority, path))
}

/// Sends one request and reads the whole response.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> io::Result<Response> {
    let (authority, path) = split_url(url)?;
    let with_port = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let addr = with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("cannot resolve {authority}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;

    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    } else if matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str("Content-Length: 0\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()?;

    // Read to EOF, but stop once the response is complete: some servers (chromedriver) answer
    // `Connection: close` and then leave the connection open.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if is_complete(&raw) {
            break;
        }
    }
    parse_response(&raw)
}

/// Whether `raw` holds a whole response by its own framing (Content-Length, or the last chunk);
/// without either, only EOF ends it.
fn is_complete(raw: &[u8]) -> bool {
    let Ok(r) = parse_response(raw) else { return false };
    if r.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return true; // parse_response only succeeds once the last chunk has arrived
    }
    r.header("content-length").is_some()
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid(format!("no end of headers in {} bytes", raw.len())))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| invalid(format!("headers are not UTF-8: {e}")))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("bad status line: {status_line}")))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| invalid(format!("bad header line: {line}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        decode_chunked(rest)?
    } else {
        let length = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        match length {
            Some(n) if n <= rest.len() => rest[..n].to_vec(),
            Some(n) => return Err(invalid(format!("body cut short: {} of {n} bytes", rest.len()))),
            None => rest.to_vec(),
        }
    };
    Ok(Response { status, headers, body })
}

fn decode_chunked(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end =
            data.windows(2).position(|w| w == b"\r\n").ok_or_else(|| invalid("chunk size line without CRLF"))?;
        let size_line = std::str::from_utf8(&data[..line_end]).map_err(|_| invalid("chunk size is not text"))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size =
            usize::from_str_radix(size_hex, 16).map_err(|_| invalid(format!("bad chunk size: {size_line:?}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers, if any, are ignored.
            return Ok(body);
        }
        if data.len() < size + 2 {
            return Err(invalid(format!("chunk cut short: {} of {size} bytes", data.len())));
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Percent-encodes a query value (UTF-8, everything but unreserved characters).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

#[test]
fn parses_plain_and_chunked_responses() {
    let plain = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
    let r = parse_response(plain).unwrap();
    assert_eq!((r.status, r.text().as_str(), r.header("content-type")), (200, "ok\n", Some("text/plain")));

    let chunked = b"HTTP/1.1 303 See Other\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1; Path=/\r\n\r\n4\r\nWiki\r\n6;x=y\r\npedia \r\n0\r\n\r\n";
    let r = parse_response(chunked).unwrap();
    assert_eq!((r.status, r.text().as_str()), (303, "Wikipedia "));
    assert_eq!(r.cookie("a").as_deref(), Some("a=1"));

    assert_eq!(split_url("http://127.0.0.1:9/x?q=1").unwrap(), ("127.0.0.1:9", "/x?q=1".to_string()));
    assert_eq!(split_url("http://h:1").unwrap(), ("h:1", "/".to_string()));
    assert_eq!(split_url("http://h:1?q").unwrap(), ("h:1", "/?q".to_string()));
    assert_eq!(url_encode("高新 a&b"), "%E9%AB%98%E6%96%B0%20a%26b");
}
