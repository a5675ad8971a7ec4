//! A blocking HTTP client for one simulated user or writer: one keep-alive connection, its
//! own cookie, CSRF token, bearer token and client address; every answer read whole.

use std::time::Duration;

use ureq::http::{self, Request};

use super::Error;

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// The `name=value` parts of the Set-Cookie headers.
    pub cookies: Vec<String>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_slice(&self.body).map_err(|e| format!("not JSON ({e}): {}", snippet(&self.text())))
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.cookies.iter().find(|c| c.starts_with(&prefix)).cloned()
    }
}

pub fn snippet(text: &str) -> String {
    text.chars().take(300).collect()
}

pub struct Client {
    agent: ureq::Agent,
    base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    pub bearer: Option<String>,
    /// Sent as `X-Forwarded-For` (the server trusts it with `--trust-proxy`).
    pub address: Option<String>,
}

impl Client {
    pub fn new(base: &str, timeout: Duration) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections_per_host(1)
            .build()
            .into();
        Client { agent, base: base.to_string(), cookie: None, csrf: None, bearer: None, address: None }
    }

    pub fn get(&self, path: &str) -> Result<Reply, Error> {
        self.send("GET", path, None, &[])
    }

    pub fn json(&self, method: &str, path: &str, body: &serde_json::Value) -> Result<Reply, Error> {
        self.send(method, path, Some("application/json"), body.to_string().as_bytes())
    }

    pub fn send(&self, method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Result<Reply, Error> {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(c) = content_type {
            req = req.header("Content-Type", c);
        }
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        if let Some(t) = &self.bearer {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let (Some(t), false) = (&self.csrf, method == "GET") {
            req = req.header("X-CSRF-Token", t);
        }
        if let Some(a) = &self.address {
            req = req.header("X-Forwarded-For", a);
        }
        let result = if method == "GET" {
            self.agent.run(req.body(()).map_err(|e| e.to_string())?)
        } else {
            self.agent.run(req.body(body).map_err(|e| e.to_string())?)
        };
        let mut resp = result.map_err(|e| format!("{method} {path}: {e}"))?;
        let headers = resp.headers();
        let cookies = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_string)
            .collect();
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        Ok(Reply { status, body, cookies })
    }
}

/// The value of the first `name="csrf" value="…"` field in a page.
pub fn csrf_field(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker)? + marker.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_string())
}

/// An `application/x-www-form-urlencoded` body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    let encode = crate::http::pages::url_encode;
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}
