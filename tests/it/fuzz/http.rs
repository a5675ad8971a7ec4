//! Every route of the router's table, called by a role it admits with arbitrary bodies,
//! arbitrary query strings and arbitrary path parameters (each property varies one, the others
//! being real records), methods the router does not know, and multipart uploads to the upload
//! routes. The answer is never 5xx, and a refusal is in the documented format.

use axum::body::Body;
use axum::http::{Method, Request, header};
use huiqi::http::routes::RouteSpec;
use huiqi::model::{Capacity, CreditCode, Role, Vocabulary, Who};
use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::inputs::{self, Body as GenBody};
use super::{cases, check_reply, failure, report, runner};
use crate::access::{World, usernames, world};
use crate::common::{Browser, PASSWORD, Reply, extract_csrf};

/// A request as the properties and the corpus send it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub uri: String,
    /// Signed in as this role (session cookie and `X-CSRF-Token`), or anonymous.
    pub role: Option<Role>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Sends a call; a URI the HTTP types refuse is answered as a client would see it fail (400).
pub async fn send(w: &mut World, call: &Call) -> Reply {
    send_with(w, call, true).await
}

async fn send_with(w: &mut World, call: &Call, csrf_header: bool) -> Reply {
    let mut req = Request::builder().method(call.method.clone()).uri(&call.uri);
    if let Some(b) = call.role.and_then(|r| w.sessions.get(&r)) {
        req = req.header(header::COOKIE, &b.cookie);
        if csrf_header {
            req = req.header("x-csrf-token", &b.csrf);
        }
    }
    if let Some(ct) = call.content_type.as_deref().filter(|c| !c.is_empty()) {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    let req = req.body(Body::from(call.body.clone())).unwrap_or_else(|e| panic!("an unusable request {call:?}: {e}"));
    let reply = w.app.send(req).await;
    // Keep the world usable: sign in again where a call ended the session, rebind an entity left.
    if let Some(role) = call.role {
        let lost = reply.status == axum::http::StatusCode::UNAUTHORIZED || reply.location().starts_with("/login");
        if call.uri.contains("/leave") {
            let code = w.own_entity.clone();
            let _ = w.app.auth().binding_grant(
                &Who::system("fuzz"),
                "enterprise",
                &CreditCode::parse(&code).unwrap(),
                Capacity::LegalRep,
            );
            heal(w, Role::Enterprise).await;
        } else if lost || call.uri.contains("session") || call.uri.contains("logout") {
            heal(w, role).await;
        }
    }
    reply
}

/// Signs a role in again, quietly (a failed sign-in leaves the old session in place).
async fn heal(w: &mut World, role: Role) {
    let reply = w.app.try_sign_in(usernames(role), PASSWORD).await;
    let Some(cookie) = reply.cookie("huiqi_session") else { return };
    let page = w.app.page(&cookie, "/account").await;
    if let Some(csrf) = extract_csrf(&page.text()) {
        w.sessions.insert(role, Browser { cookie, csrf });
    }
}

/// Ids of the world's own accounts: a random path parameter never names them (so that a reset
/// or a disable cannot lock the fuzzer out); the target account stands in.
fn protect(w: &World, segment: String) -> String {
    let own: Vec<String> = Role::ALL
        .iter()
        .filter_map(|r| w.app.auth().user_by_name(usernames(*r)).ok())
        .map(|u| u.id.to_string())
        .collect();
    let trimmed = segment.trim_start_matches('0');
    if own.iter().any(|id| id == trimmed) { w.params["user_id"].clone() } else { segment }
}

/// Who calls a route: one of the roles it admits (anonymous if it is public), chosen by `pick`.
fn caller(spec: &RouteSpec, pick: &Index) -> Option<Role> {
    let mut admitted: Vec<Option<Role>> =
        Role::ALL.iter().copied().filter(|r| spec.access.allows_role(*r)).map(Some).collect();
    if spec.access.allows_anonymous() {
        admitted.push(None);
    }
    if admitted.is_empty() { Some(Role::Sysadmin) } else { admitted[pick.index(admitted.len())] }
}

/// The route's path with its `{…}` parameters replaced, in order, by `segments`.
fn path_with(spec: &RouteSpec, segments: &[String]) -> String {
    let mut out = String::new();
    let mut rest = spec.path.as_str();
    let mut i = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(segments.get(i).map_or("x", String::as_str));
        i += 1;
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn natural_content_type(body: &GenBody, api: bool) -> &'static str {
    match body {
        GenBody::Form(_) => "application/x-www-form-urlencoded",
        GenBody::Bytes(_) => "application/octet-stream",
        _ if api => "application/json",
        _ => "application/x-www-form-urlencoded",
    }
}

/// Runs `property` over every route that `routes` selects, `n` cases each, and collects the
/// minimal failing input of every route that fails.
fn every_route<S, F>(what: &str, n: u32, routes: impl Fn(&RouteSpec) -> bool, strategy: S, property: F)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
    F: Fn(&mut World, &RouteSpec, S::Value) -> Result<(), TestCaseError>,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let w = std::cell::RefCell::new(rt.block_on(world()));
    let mut failures = Vec::new();
    for spec in huiqi::http::route_specs().iter().filter(|s| routes(s)) {
        let mut r = runner(cases(n));
        let result = r.run(&strategy, |input| property(&mut w.borrow_mut(), spec, input));
        if let Some(f) = failure(result) {
            failures.push(format!("{} {}: {f}", spec.method, spec.path));
        }
    }
    report(what, &failures);
}

/// Sends one call from inside a property (its own runtime: the properties are synchronous).
fn call(w: &mut World, c: &Call) -> Reply {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(send(w, c))
}

#[test]
fn arbitrary_bodies_are_refused_in_the_documented_format() {
    let strategy = (any::<Index>(), inputs::body(), prop::option::weighted(0.2, select(inputs::CONTENT_TYPES)));
    every_route(
        "arbitrary bodies",
        8,
        |s| s.method != Method::GET,
        strategy,
        |w: &mut World, spec, (pick, body, ct)| {
            let role = caller(spec, &pick);
            let c = Call {
                method: spec.method.clone(),
                uri: w.path(spec),
                role,
                content_type: Some(ct.unwrap_or_else(|| natural_content_type(&body, spec.is_api())).to_string()),
                body: body.bytes(),
            };
            let reply = call(w, &c);
            check_reply(spec.method.as_str(), &c.uri, &reply)
        },
    );
}

#[test]
fn arbitrary_query_strings_are_refused_in_the_documented_format() {
    every_route(
        "arbitrary query strings",
        6,
        |_| true,
        (any::<Index>(), inputs::query()),
        |w: &mut World, spec, (pick, query)| {
            let role = caller(spec, &pick);
            let uri = format!("{}?{query}", w.path(spec));
            prop_assume!(uri.parse::<axum::http::Uri>().is_ok());
            let api = spec.is_api();
            let (content_type, body) = if spec.method == Method::GET {
                (None, Vec::new())
            } else if api {
                (Some("application/json".to_string()), b"{}".to_vec())
            } else {
                (Some("application/x-www-form-urlencoded".to_string()), b"x=1".to_vec())
            };
            let c = Call { method: spec.method.clone(), uri, role, content_type, body };
            let reply = call(w, &c);
            check_reply(spec.method.as_str(), &c.uri, &reply)
        },
    );
}

#[test]
fn arbitrary_path_parameters_are_refused_in_the_documented_format() {
    every_route(
        "arbitrary path parameters",
        6,
        |s| s.path.contains('{') && !s.path.starts_with("/static/"),
        (any::<Index>(), proptest::collection::vec(inputs::path_segment(), 3)),
        |w: &mut World, spec, (pick, segments)| {
            let role = caller(spec, &pick);
            let segments: Vec<String> = segments.into_iter().map(|s| protect(w, s)).collect();
            let uri = path_with(spec, &segments);
            prop_assume!(uri.parse::<axum::http::Uri>().is_ok());
            let (content_type, body) = if spec.method == Method::GET {
                (None, Vec::new())
            } else if spec.is_api() {
                (Some("application/json".to_string()), b"{}".to_vec())
            } else {
                (Some("application/x-www-form-urlencoded".to_string()), b"x=1".to_vec())
            };
            let c = Call { method: spec.method.clone(), uri, role, content_type, body };
            let reply = call(w, &c);
            check_reply(spec.method.as_str(), &c.uri, &reply)
        },
    );
}

/// Every path of the table, with each method it does not register: 405 with `Allow`, in the
/// documented format.
#[tokio::test]
async fn methods_a_path_does_not_take_answer_405_with_allow() {
    let mut w = world().await;
    let specs = huiqi::http::route_specs();
    let mut paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let mut failures = Vec::new();
    for path in paths {
        let spec = specs.iter().find(|s| s.path == path).unwrap();
        let uri = w.path(spec);
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            if specs.iter().any(|s| s.path == path && s.method == method) {
                continue;
            }
            let c = Call {
                method: method.clone(),
                uri: uri.clone(),
                role: Some(Role::Sysadmin),
                content_type: Some("application/json".into()),
                body: b"{}".to_vec(),
            };
            let reply = send(&mut w, &c).await;
            if let Err(e) = check_reply(method.as_str(), &uri, &reply) {
                failures.push(e.to_string());
            } else if reply.status != axum::http::StatusCode::METHOD_NOT_ALLOWED {
                failures.push(format!("{method} {uri} answered {}, not 405", reply.status));
            }
        }
    }
    // One line per route is enough to see the pattern.
    let total = failures.len();
    failures.truncate(12);
    if total > failures.len() {
        failures.push(format!("… and {} more", total - failures.len()));
    }
    report("methods a path does not take", &failures);
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Upload {
    parts: Vec<Part>,
    boundary: String,
    /// The boundary the header declares, when it is not the one used.
    declared: Option<String>,
    /// Cut the body at this point.
    cut: Option<Index>,
    /// Add the session's CSRF token as a `csrf` part (pages check it there).
    csrf: bool,
    query: String,
}

fn part() -> impl Strategy<Value = Part> {
    let name = prop::option::weighted(
        0.9,
        prop_oneof![
            4 => select(&["file", "csrf", "slot", "year", "name", "x"][..]).prop_map(String::from),
            1 => inputs::short_nasty_string().prop_map(|s| s.replace(['"', '\r', '\n'], "")),
        ],
    );
    let file_name = prop::option::weighted(
        0.6,
        prop_oneof![
            3 => select(&["a.csv", "b.xlsx", "c.pdf", "x.txt", "无标题.csv", ".csv", "a.CSV", "../../a.csv"][..]).prop_map(String::from),
            1 => inputs::short_nasty_string().prop_map(|s| s.replace(['"', '\r', '\n'], "")),
        ],
    );
    let content_type = prop::option::of(select(
        &["text/csv", "application/pdf", "application/octet-stream", "text/plain; charset=gbk", "x/y", "image/png"][..],
    ))
    .prop_map(|c| c.map(String::from));
    let data = prop_oneof![
        3 => super::imports::csv_text().prop_map(|c| c.bytes),
        2 => proptest::collection::vec(any::<u8>(), 0..2048),
        1 => (any::<u8>(), 10_000usize..400_000).prop_map(|(b, n)| vec![b; n]),
        1 => Just(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n".to_vec()),
    ];
    (name, file_name, content_type, data).prop_map(|(name, file_name, content_type, data)| Part {
        name,
        file_name,
        content_type,
        data,
    })
}

fn upload() -> impl Strategy<Value = Upload> {
    (
        proptest::collection::vec(part(), 0..5),
        "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        prop::option::weighted(0.15, "[A-Za-z0-9-]{0,20}"),
        prop::option::weighted(0.15, any::<Index>()),
        prop::bool::weighted(0.8),
        prop_oneof![
            3 => select(&["file_name=a.csv", "file_name=b.xlsx", "slot=营业执照&name=a.pdf", "slot=&name=", "", "file_name=x.txt&dry_run=true"][..]).prop_map(String::from),
            1 => inputs::query(),
        ],
    )
        .prop_map(|(parts, boundary, declared, cut, csrf, query)| Upload { parts, boundary, declared, cut, csrf, query })
}

fn render(u: &Upload, csrf: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    let b = &u.boundary;
    let mut parts = u.parts.clone();
    if let Some(token) = csrf.filter(|_| u.csrf) {
        parts.insert(
            0,
            Part { name: Some("csrf".into()), file_name: None, content_type: None, data: token.as_bytes().to_vec() },
        );
    }
    for p in &parts {
        out.extend_from_slice(format!("--{b}\r\nContent-Disposition: form-data").as_bytes());
        if let Some(n) = &p.name {
            out.extend_from_slice(format!("; name=\"{n}\"").as_bytes());
        }
        if let Some(f) = &p.file_name {
            out.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&p.data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    if let Some(cut) = &u.cut {
        out.truncate(cut.index(out.len().max(1)));
    }
    out
}

#[test]
fn multipart_uploads_are_refused_in_the_documented_format() {
    every_route(
        "multipart uploads",
        48,
        |s| s.multipart,
        upload(),
        |w: &mut World, spec, u| {
            // The role that may upload here and owns the records the path names.
            let role = [Role::Enterprise, Role::Sysadmin, Role::Specialist]
                .into_iter()
                .find(|r| spec.access.allows_role(*r))
                .unwrap_or(Role::Sysadmin);
            let csrf = w.sessions.get(&role).map(|b| b.csrf.clone());
            let body = render(&u, csrf.as_deref());
            let declared = u.declared.clone().unwrap_or_else(|| u.boundary.clone());
            let sep = if u.query.is_empty() { "" } else { "?" };
            let c = Call {
                method: Method::POST,
                uri: format!("{}{sep}{}", w.path(spec), u.query),
                role: Some(role),
                content_type: Some(format!("multipart/form-data; boundary={declared}")),
                body,
            };
            prop_assume!(c.uri.parse::<axum::http::Uri>().is_ok());
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            // Pages take the CSRF token from the form; the API from the header.
            let reply = rt.block_on(send_with(w, &c, spec.is_api()));
            check_reply("POST", &c.uri, &reply)
        },
    );
}

#[test]
fn path_templates_fill_in_order() {
    let spec = huiqi::http::route_specs().into_iter().find(|s| s.path == "/api/v1/bindings/{user}/{code}").unwrap();
    assert_eq!(path_with(&spec, &["1".into(), "X".into()]), "/api/v1/bindings/1/X");
}

/// A running `huiqi serve` on a free port of the loopback, stopped (by its handle) when dropped.
struct RealServer {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl RealServer {
    fn start() -> RealServer {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_huiqi"))
            .arg("--data")
            .arg(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("HUIQI_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = RealServer { child, base: String::new(), _dir: dir };
        while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
            if let Some(url) = line.split("serving on ").nth(1) {
                server.base = url.trim().trim_end_matches('/').to_string();
                break;
            }
        }
        assert!(!server.base.is_empty(), "huiqi serve did not say where it serves");
        server
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A URI too long for the HTTP types never reaches the router (so `oneshot` cannot send it): the
/// real server answers it, 414 in the documented format, for the API and for a page.
#[test]
fn uris_over_64_kb_are_refused_in_the_documented_format() {
    let server = RealServer::start();
    let mut failures = Vec::new();
    for path in ["/api/v1/policies?q=", "/policies?q="] {
        let uri = format!("{path}{}", "a".repeat(70_000));
        let url = format!("{}{uri}", server.base);
        let r = match crate::http_client::request("GET", &url, &[], None) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("GET {path}a…: no answer ({e})"));
                continue;
            }
        };
        let mut headers = axum::http::HeaderMap::new();
        for (k, v) in &r.headers {
            if let (Ok(k), Ok(v)) = (k.parse::<axum::http::HeaderName>(), v.parse()) {
                headers.append(k, v);
            }
        }
        let status = axum::http::StatusCode::from_u16(r.status).unwrap_or(axum::http::StatusCode::IM_A_TEAPOT);
        let reply = Reply { status, headers, body: r.body };
        if status != axum::http::StatusCode::URI_TOO_LONG {
            failures.push(format!("GET {path}a… ({} characters) answered {status}, not 414", uri.len()));
        } else if let Err(e) = check_reply("GET", &uri, &reply) {
            failures.push(e.to_string());
        }
    }
    report("URIs over 64 KB", &failures);
}
