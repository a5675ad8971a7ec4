//! A headless Chromium, driven through chromedriver with raw W3C WebDriver JSON: search from the
//! home page and open a measure, as a person would.
//!
//! Needs `chromium` and `chromedriver` (`apt-get install chromium chromium-driver`); override the
//! paths with `$CHROME_BIN` and `$CHROMEDRIVER`. Without them the test is skipped with a loud
//! message, unless `HUIQI_BROWSER_TESTS=1` (as in CI), where a missing browser is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::TestApp;
use crate::http_client::{self, free_port};

/// The W3C key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// `$var` if set, else `default`; `Ok` if that file exists, else `Err(why)`.
fn locate(var: &str, default: &str) -> Result<PathBuf, String> {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    if path.is_file() { Ok(path) } else { Err(format!("{} not found (set ${var} to override)", path.display())) }
}

/// Polls `f` every 100 ms until it returns `Some`, or gives up after `timeout`.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A running chromedriver; dropping it asks it to shut down (closing any browser it started)
/// and then kills it.
struct ChromeDriver {
    child: Child,
    base: String,
}

impl ChromeDriver {
    fn start(path: &Path) -> ChromeDriver {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut driver = ChromeDriver { child, base: format!("http://127.0.0.1:{port}") };
        let status_url = format!("{}/status", driver.base);
        let ready = poll(Duration::from_secs(30), || {
            if let Ok(Some(status)) = driver.child.try_wait() {
                panic!("chromedriver exited early with {status}");
            }
            let r = http_client::request("GET", &status_url, &[], None).ok()?;
            let v: Value = serde_json::from_slice(&r.body).ok()?;
            (r.status == 200 && v["value"]["ready"] == json!(true)).then_some(())
        });
        assert!(ready.is_some(), "chromedriver at {} was not ready within 30 s", driver.base);
        driver
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = http_client::request("GET", &format!("{}/shutdown", self.base), &[], None);
            let exited = poll(Duration::from_secs(5), || self.child.try_wait().ok().flatten());
            if exited.is_none() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}

/// A WebDriver session; dropping it deletes the session (and so closes the browser).
struct Session {
    url: String,
}

impl Session {
    fn new(driver: &ChromeDriver, chrome: &Path, profile: &Path) -> Session {
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": chrome.to_string_lossy(),
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            "--lang=zh-CN",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                        // The pages follow Accept-Language; ask for Chinese like a local user.
                        "prefs": { "intl.accept_languages": "zh-CN,zh" },
                    }
                }
            }
        });
        let value = send(&format!("{}/session", driver.base), "POST", Some(caps))
            .unwrap_or_else(|e| panic!("cannot start a browser session: {e}"));
        let id = value["sessionId"].as_str().unwrap_or_else(|| panic!("no sessionId in {value}"));
        Session { url: format!("{}/session/{id}", driver.base) }
    }

    /// A WebDriver command on this session; the `value` of the answer.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        send(&format!("{}{path}", self.url), method, body)
    }

    /// Like `cmd`, but a failure ends the test with the page source for context.
    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.cmd(method, path, body) {
            Ok(v) => v,
            Err(e) => self.fail(&format!("{method} {path}: {e}")),
        }
    }

    fn fail(&self, message: &str) -> ! {
        let url = self.cmd("GET", "/url", None).map(|v| v.as_str().unwrap_or_default().to_string()).unwrap_or_default();
        let source = self.cmd("GET", "/source", None).ok().and_then(|v| v.as_str().map(str::to_string));
        let source = source.unwrap_or_default();
        let snippet: String = source.chars().take(4000).collect();
        panic!("{message}\n(browser at {url:?}; page source begins:)\n{snippet}")
    }

    fn go(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    fn find_all(&self, css: &str) -> Vec<String> {
        let found = self.must("POST", "/elements", Some(json!({ "using": "css selector", "value": css })));
        found.as_array().map(|a| a.iter().filter_map(element_id).collect()).unwrap_or_default()
    }

    fn find(&self, css: &str) -> String {
        match self.cmd("POST", "/element", Some(json!({ "using": "css selector", "value": css }))) {
            Ok(v) => element_id(&v).unwrap_or_else(|| self.fail(&format!("no element reference for {css}: {v}"))),
            Err(e) => self.fail(&format!("cannot find {css}: {e}")),
        }
    }

    fn text(&self, element: &str) -> String {
        self.must("GET", &format!("/element/{element}/text"), None).as_str().unwrap_or_default().to_string()
    }

    fn click(&self, element: &str) {
        self.must("POST", &format!("/element/{element}/click"), Some(json!({})));
    }

    fn type_into(&self, element: &str, text: &str) {
        self.must("POST", &format!("/element/{element}/value"), Some(json!({ "text": text })));
    }

    /// Waits (up to 30 s) until the current URL contains `part`.
    fn wait_for_url(&self, part: &str) -> String {
        poll(Duration::from_secs(30), || {
            let url = self.cmd("GET", "/url", None).ok()?.as_str()?.to_string();
            url.contains(part).then_some(url)
        })
        .unwrap_or_else(|| self.fail(&format!("the URL did not come to contain {part:?} within 30 s")))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = http_client::request("DELETE", &self.url, &[], None);
    }
}

fn element_id(v: &Value) -> Option<String> {
    v.get(ELEMENT_KEY)?.as_str().map(str::to_string)
}

/// Sends a WebDriver command and returns the `value` of the answer, or the error it reports.
fn send(url: &str, method: &str, body: Option<Value>) -> Result<Value, String> {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let headers: &[(&str, &str)] =
        if bytes.is_some() { &[("Content-Type", "application/json; charset=utf-8")] } else { &[] };
    let r = http_client::request(method, url, headers, bytes.as_deref()).map_err(|e| format!("{method} {url}: {e}"))?;
    let v: Value = serde_json::from_slice(&r.body)
        .map_err(|e| format!("{method} {url}: not JSON ({e}), status {}: {}", r.status, r.text()))?;
    if r.status != 200 {
        return Err(format!(
            "{method} {url}: {} {}: {}",
            r.status,
            v["value"]["error"].as_str().unwrap_or("?"),
            v["value"]["message"].as_str().unwrap_or("")
        ));
    }
    Ok(v["value"].clone())
}

/// The browser and its driver, or why they are missing. With `HUIQI_BROWSER_TESTS=1` a missing
/// browser fails the test; otherwise it is skipped with a loud message.
fn browser_paths() -> Option<(PathBuf, PathBuf)> {
    let required = std::env::var("HUIQI_BROWSER_TESTS").is_ok_and(|v| v == "1");
    match (locate("CHROMEDRIVER", "/usr/bin/chromedriver"), locate("CHROME_BIN", "/usr/bin/chromium")) {
        (Ok(d), Ok(c)) => Some((d, c)),
        (d, c) => {
            let why: Vec<String> = [d.err(), c.err()].into_iter().flatten().collect();
            let why = why.join("; ");
            if required {
                panic!("HUIQI_BROWSER_TESTS=1 but the browser is missing: {why}");
            }
            eprintln!(
                "SKIPPED browser test: {why}. Install it with `apt-get install chromium chromium-driver` \
                 (or set $CHROME_BIN and $CHROMEDRIVER); set HUIQI_BROWSER_TESTS=1 to make a missing browser fail."
            );
            None
        }
    }
}

/// One browser at a time: the tests run in parallel, and a 2-core machine running several
/// Chromiums at once gets slow enough to hit the waits.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Serves `app` on a real port and runs `steps` in a fresh headless browser against it.
async fn in_browser(app: TestApp, steps: impl FnOnce(&Session, &str) + Send + 'static) {
    let Some((driver_path, chrome)) = browser_paths() else { return };
    let _turn = ONE_BROWSER.lock().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(huiqi::http::serve(listener, app.state.clone(), async move {
        let _ = stopped.await;
    }));
    let outcome = tokio::task::spawn_blocking(move || {
        // Declared first so that it is removed last, after the browser has closed.
        let profile = tempfile::tempdir().unwrap();
        let driver = ChromeDriver::start(&driver_path);
        let session = Session::new(&driver, &chrome, profile.path());
        steps(&session, &base);
        drop(session);
        drop(driver);
        drop(profile);
    })
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    drop(app);
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("the browser steps did not finish: {e}");
    }
}

impl Session {
    /// A DOM property of an element (`value` of an input, say).
    fn prop(&self, element: &str, name: &str) -> String {
        let v = self.must("GET", &format!("/element/{element}/property/{name}"), None);
        v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
    }

    fn clear(&self, element: &str) {
        self.must("POST", &format!("/element/{element}/clear"), Some(json!({})));
    }

    /// Waits (up to 30 s) until `check` holds.
    fn wait_until(&self, what: &str, mut check: impl FnMut(&Session) -> bool) {
        if poll(Duration::from_secs(30), || check(self).then_some(())).is_none() {
            self.fail(&format!("timed out waiting for {what}"));
        }
    }

    fn sign_in(&self, base: &str, username: &str) {
        self.go(&format!("{base}/login?next=/staff"));
        let u = self.find("#username");
        self.type_into(&u, username);
        let p = self.find("#password");
        self.type_into(&p, crate::common::PASSWORD);
        let button = self.find("main form button[type=submit]");
        self.click(&button);
        // The sign-in page's own URL holds "/staff" (in `next`): wait until it is left.
        self.wait_until("the console after signing in", |s| {
            s.cmd("GET", "/url", None).ok().and_then(|v| v.as_str().map(|u| u.ends_with("/staff"))).unwrap_or(false)
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_searches_and_opens_a_policy() {
    in_browser(TestApp::with_demo(20), |session, base| {
        session.go(&format!("{base}/"));
        let q = session.find("#home-q");
        session.type_into(&q, "高新");
        let submit = session.find("form[role=search] button");
        session.click(&submit);
        let results = session.wait_for_url("/policies");
        assert!(results.contains("q="), "the search did not carry the query: {results}");

        let links = session.find_all("ul.measure-list a");
        let target = links.iter().find(|link| session.text(link).contains("高新技术企业"));
        let Some(target) = target else {
            session.fail(&format!("no measure link mentioning 高新技术企业 among {} links", links.len()))
        };
        session.click(target);
        session.wait_for_url("/measures/");

        let h1 = session.find("h1");
        let heading = session.text(&h1);
        if !heading.contains("高新技术企业") {
            session.fail(&format!("the measure page's heading is {heading:?}"));
        }
        let title = session.must("GET", "/title", None).as_str().unwrap_or_default().to_string();
        if !title.contains("惠企") {
            session.fail(&format!("the measure page's title is {title:?}"));
        }
        assert!(title.contains(&heading), "the title {title:?} does not name the measure {heading:?}");
    })
    .await;
}

/// 政策计算器: a person picks a few attributes and sees what fits, explained.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_calculator_shows_what_fits() {
    in_browser(TestApp::with_demo(20), |session, base| {
        session.go(&format!("{base}/calculator"));
        for option in [
            "#c-entity_type option[value=individual]",
            "#c-region option[value=\"230125\"]",
            "#c-dishonest option[value=false]",
        ] {
            let o = session.find(option);
            session.click(&o);
        }
        let industry = session.find("#c-industry");
        session.type_into(&industry, "F5211");
        let submit = session.find("#calc-submit");
        session.click(&submit);
        session.wait_for_url("entity_type=individual");
        let eligible = session.find("#eligible");
        let text = session.text(&eligible);
        if !text.contains("个体工商户") {
            session.fail(&format!("the measures that fit do not include the individual-business relief: {text}"));
        }
        // The explanation opens on request and names the actual value.
        let summary = session.find("#eligible details summary");
        session.click(&summary);
        let details = session.find("#eligible details");
        assert!(session.text(&details).contains("宾县"), "the explanation shows the region");
    })
    .await;
}

/// The rule builder writes the expression from pickers, switches to raw text and back, and
/// counts eligible entities live as the measure is edited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_rule_builder_counts_live() {
    let app = TestApp::with_demo(300);
    app.account("builder", huiqi::model::Role::Publisher, Some("科技局"));
    let policy =
        app.svc().policy_search(&Default::default(), huiqi::service::policies::Audience::Public).unwrap()[0].policy.id;
    in_browser(app, move |session, base| {
        session.sign_in(base, "builder");
        session.go(&format!("{base}/staff/policies/{policy}/measures/new"));
        let field = session.find("#cond-rows .rowline.cond .builder select");
        let region = session.find("#cond-rows .rowline.cond .builder select option[value=region]");
        session.click(&region);
        let province = session.find("#cond-rows .rowline.cond .builder .value select option[value=\"23\"]");
        session.click(&province);
        let expr = session.find("#cond-rows .rowline.cond input[name=cond_expr]");
        session
            .wait_until("the builder to write the expression", |s| s.prop(&expr, "value") == "region.within(\"23\")");
        assert_eq!(session.prop(&field, "value"), "region");
        // Every generated entity lies in Heilongjiang: the live count is all of them.
        session.wait_until("the live count of 300", |s| {
            s.find_all("#live .live-eligible b").first().is_some_and(|b| s.try_text(b).as_deref() == Some("300"))
        });

        // Raw text, then back to the pickers.
        let toggle = session.find("#cond-rows .rowline.cond button.toggle");
        session.click(&toggle);
        session.clear(&expr);
        session.type_into(&expr, "rd_ratio >= 3");
        session.wait_until("a smaller live count", |s| {
            s.find_all("#live .live-eligible b")
                .first()
                .is_some_and(|b| s.try_text(b).and_then(|t| t.parse::<u32>().ok()).is_some_and(|n| n < 300))
        });
        session.click(&toggle);
        session.wait_until("the pickers to read the expression back", |s| s.prop(&field, "value") == "rd_ratio");

        // A mistake is shown at its condition.
        session.click(&toggle);
        session.clear(&expr);
        session.type_into(&expr, "rd_ration >= 3");
        session.wait_until("the error at the condition", |s| {
            s.find_all("#cond-rows .cond-info.error")
                .first()
                .is_some_and(|e| s.try_text(e).is_some_and(|t| t.contains("rd_ratio")))
        });
    })
    .await;
}

impl Session {
    /// The address the browser is at now ("" if it cannot tell).
    fn current_url(&self) -> String {
        self.cmd("GET", "/url", None).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    /// Waits (up to 30 s) until the browser is at `base` + `path`, with nothing after it.
    fn wait_for_page(&self, base: &str, path: &str) {
        let want = format!("{base}{path}");
        self.wait_until(&format!("the browser to be at {want}"), |s| s.current_url() == want);
    }

    /// The text of the whole page body.
    fn page_text(&self) -> String {
        let body = self.find("body");
        self.text(&body)
    }

    /// Signs out with the header's button and waits for the home page.
    fn sign_out(&self, base: &str) {
        let button = self.find(r#"header form[action="/logout"] button"#);
        self.click(&button);
        self.wait_for_page(base, "/");
    }
}

/// An account made with a one-time password must choose its own first; a person registers an
/// enterprise with an invitation code from the letter and sees its matches; signing out closes
/// 企业之家 again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_accounts_forced_change_register_bind_sign_out() {
    use huiqi::auth::NewUser;
    use huiqi::model::{Role, Who};

    let app = TestApp::with_demo(20);
    let who = Who::system("test");
    let (_, one_time) = app.auth().user_create(&who, NewUser::new("oneadmin", Role::Sysadmin), None).unwrap();
    let one_time = one_time.expect("an account made without a password gets a one-time password");
    let first =
        app.svc().entity_list(&huiqi::model::Who::system("test"), &Default::default()).unwrap().entities.remove(0);
    let code = first.credit_code.as_str().to_string();
    let name = first.name.clone().expect("a demo entity has a name");
    let (_, invitation) = app.auth().invitation_create(&who, &first.credit_code, 30).unwrap();
    // As a person might type it off the letter: lower case, no dashes.
    let typed_invitation = invitation.replace('-', "").to_lowercase();

    in_browser(app, move |session, base| {
        // 1. The one-time password signs in, but only to the page that replaces it.
        session.go(&format!("{base}/login"));
        let u = session.find("#username");
        session.type_into(&u, "oneadmin");
        let p = session.find("#password");
        session.type_into(&p, &one_time);
        let button = session.find("main form button[type=submit]");
        session.click(&button);
        session.wait_for_page(base, "/account/password");
        let notice = session.find("main .notice");
        let notice = session.text(&notice);
        if !notice.contains("一次性密码") {
            session.fail(&format!("the forced-change page does not say why: {notice:?}"));
        }
        // Anywhere else leads back here until the password is changed.
        session.go(&format!("{base}/staff"));
        session.wait_for_page(base, "/account/password");

        let new_password = "Birch-Harbor-58";
        for (field, value) in [("#current", one_time.as_str()), ("#new", new_password), ("#new2", new_password)] {
            let input = session.find(field);
            session.type_into(&input, value);
        }
        let button = session.find("main form button[type=submit]");
        session.click(&button);
        session.wait_for_page(base, "/staff?notice=password_changed");
        let text = session.page_text();
        if !text.contains("密码已修改") {
            session.fail("the console does not confirm the password change");
        }

        session.sign_out(base);
        let login = session.find(r#"header .who a[href^="/login"]"#);
        let label = session.text(&login);
        if label != "登录" {
            session.fail(&format!("after signing out the header's sign-in link reads {label:?}"));
        }

        // 2. Registering with the invitation code binds the entity at once.
        session.go(&format!("{base}/register"));
        let password = "Maple-River-2026";
        for (field, value) in [
            ("#username", "qiyebrowser"),
            ("#display_name", "张经理"),
            ("#phone", "13812345678"),
            ("#password", password),
            ("#password2", password),
            ("#credit_code", code.as_str()),
            ("#entity_name", name.as_str()),
            ("#invitation", typed_invitation.as_str()),
        ] {
            let input = session.find(field);
            session.type_into(&input, value);
        }
        let capacity = session.find("#capacity");
        assert_eq!(session.prop(&capacity, "value"), "legal_rep", "the registration form's default capacity");
        let agree = session.find("#agree");
        session.click(&agree);
        let button = session.find("main form button[type=submit]");
        session.click(&button);
        session.wait_for_page(base, "/my");

        let mine = session.find("#my-entities");
        let mine_text = session.text(&mine);
        if !mine_text.contains("我的企业") || !mine_text.contains(&name) {
            session.fail(&format!("我的企业 does not list {name:?}: {mine_text:?}"));
        }
        let link = session.find(&format!(r#"main section.card a[href="/my/entities/{code}"]"#));
        assert_eq!(session.text(&link), name, "the link to the entity's page names it");
        session.click(&link);
        session.wait_for_page(base, &format!("/my/entities/{code}"));
        let h1 = session.find("main h1");
        assert_eq!(session.text(&h1), name, "the entity page's heading");
        let matches = session.find("#matches h2");
        assert_eq!(session.text(&matches), "政策匹配", "the entity page shows its matches");

        // 3. Signed out, 企业之家 asks for a sign-in again.
        session.sign_out(base);
        session.go(&format!("{base}/my"));
        session.wait_for_page(base, "/login?next=/my");
        let next = session.find(r#"main form input[name="next"]"#);
        assert_eq!(session.prop(&next, "value"), "/my", "signing in would lead back to 企业之家");
    })
    .await;
}

impl Session {
    /// Accepts the confirmation dialog a `data-confirm` form opens.
    fn accept_dialog(&self) {
        let accepted = poll(Duration::from_secs(10), || self.cmd("POST", "/alert/accept", Some(json!({}))).ok());
        if accepted.is_none() {
            self.fail("no confirmation dialog to accept");
        }
    }

    /// Signs in through the form and waits to arrive at `next`.
    fn sign_in_to(&self, base: &str, username: &str, next: &str) {
        self.go(&format!("{base}/login?next={next}"));
        let u = self.find("#username");
        self.type_into(&u, username);
        let p = self.find("#password");
        self.type_into(&p, crate::common::PASSWORD);
        let button = self.find("main form button[type=submit]");
        self.click(&button);
        self.wait_for_page(base, next);
    }

    /// An element's text, or `None` when the page replaced the element meanwhile.
    fn try_text(&self, element: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{element}/text"), None).ok()?.as_str().map(str::to_string)
    }

    /// The body's text, or `None` while the page is being replaced.
    fn try_page_text(&self) -> Option<String> {
        let body = self.cmd("POST", "/element", Some(json!({ "using": "css selector", "value": "body" }))).ok()?;
        let id = element_id(&body)?;
        self.cmd("GET", &format!("/element/{id}/text"), None).ok()?.as_str().map(str::to_string)
    }

    /// Clicks and waits until the page says `text`.
    fn click_until(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.click(&element);
        self.wait_until(&format!("the page to say {text:?} after clicking {css}"), |s| {
            s.try_page_text().is_some_and(|t| t.contains(text))
        });
    }

    /// On a case page: uploads the material, fills in the contact and submits, waiting until
    /// the page says `until`.
    /// What is typed before the upload survives it (issue 10, defect 4), and the checklist
    /// then shows the material as uploaded, by name.
    fn attach_and_submit(&self, file: &str, contact: &str, until: &str) {
        self.fill(r#"input[name="form.contact"]"#, contact);
        let input = self.find("#upload-form input[type=file]");
        self.type_into(&input, file);
        self.click_until("#upload-form button[type=submit]", "附件已上传");
        let kept = self.prop(&self.find(r#"input[name="form.contact"]"#), "value");
        assert_eq!(kept, contact, "the upload lost what was typed");
        let done = self.find_all("#materials li.done");
        assert!(!done.is_empty(), "the checklist shows the uploaded material");
        self.click_until("#submit-case", until);
        // Submitted: the receipt, with the case number, ready to print.
        let url = self.current_url();
        assert!(url.ends_with("/receipt"), "after submission the browser is at {url}");
        let number = self.text(&self.find("#receipt-number"));
        assert!(number.starts_with("HQ-"), "{number}");
        let pdf = self.must("POST", "/print", Some(json!({})));
        assert!(pdf.as_str().is_some_and(|b| b.starts_with("JVBER")), "the receipt prints as a PDF");
    }

    /// Replaces what an input holds.
    fn fill(&self, css: &str, text: &str) {
        let input = self.find(css);
        self.clear(&input);
        self.type_into(&input, text);
    }
}

/// The whole path of issue 5: a publisher drafts and another approves publication; the
/// enterprise finds the push in its inbox, applies with an attachment; the reviewer returns it
/// for supplement; the enterprise resubmits; it is approved through every stage; and an
/// `instant` case is decided at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_publish_push_apply_return_resubmit_approve() {
    use huiqi::model::{Capacity, MeasureSpec, PolicyInput, Role, Who};

    let app = TestApp::new();
    let dept = "哈尔滨市科学技术局";
    for (name, role, d) in [
        ("keji", Role::Publisher, Some(dept)),
        ("keji2", Role::Publisher, Some(dept)),
        ("shenhe", Role::Reviewer, Some(dept)),
        ("qiye", Role::Enterprise, None),
    ] {
        app.account(name, role, d);
    }
    let svc = app.svc().clone();
    let system = Who::system("test");
    let code = crate::common::credit_code(7);
    let pairs: Vec<(String, String)> = [
        ("credit_code", code.as_str()),
        ("name", "哈尔滨冰城智造有限公司"),
        ("region", "230102"),
        ("employees", "60"),
        ("rd_expense", "200"),
        ("dishonest", "否"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    svc.entity_upsert(&system, &svc.entity_patch_from_texts(&pairs, false).unwrap()).unwrap();
    app.auth()
        .binding_grant(&system, "qiye", &huiqi::model::CreditCode::parse(&code).unwrap(), Capacity::LegalRep)
        .unwrap();
    let policy: PolicyInput = serde_json::from_value(json!({
        "title": "科技创新若干措施", "doc_number": "哈科规〔2026〕7号", "level": "municipal", "department": dept,
        "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
        "text": "第一条", "interpretation": "", "tags": []
    }))
    .unwrap();
    let policy = svc.policy_create(&system, policy).unwrap();
    let measure = |name: &str, mode: &str, stages: Value| -> MeasureSpec {
        serde_json::from_value(json!({
            "name": name, "department": dept, "mode": mode, "category": "subsidy",
            "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
            "amount": "min(rd_expense * 0.1, 30)", "cap": 30,
            "window_start": "2026-01-01", "window_end": "2026-12-31",
            "materials": ["营业执照复印件"],
            "form_fields": [{"key": "contact", "label": "联系人", "kind": "text", "required": true}],
            "review_stages": stages
        }))
        .unwrap()
    };
    let keji = Who::user(&app.auth().principal_of("keji").unwrap().user, "test");
    let stages = json!([{"name": "受理", "days": 2}, {"name": "审定", "days": 3}]);
    let apply = svc.measure_create(&keji, policy.id, measure("研发费用补助", "apply", stages)).unwrap().measure_id;
    let instant =
        svc.measure_create(&keji, policy.id, measure("研发奖励（即申即享）", "instant", json!([]))).unwrap().measure_id;
    svc.measure_publish(&system, huiqi::model::MeasureId(instant)).unwrap();
    let pdf = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    std::fs::write(pdf.path(), b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n").unwrap();
    let pdf_path = pdf.path().to_string_lossy().into_owned();

    in_browser(app, move |s, base| {
        let _keep = &pdf;
        // 1. The drafter asks for publication; a colleague approves it.
        s.sign_in_to(base, "keji", "/staff");
        s.go(&format!("{base}/measures/{apply}"));
        s.click_until("#request-publication button", "已提交发布申请");
        s.sign_out(base);
        s.sign_in_to(base, "keji2", "/staff");
        s.go(&format!("{base}/measures/{apply}"));
        let approve = s.find("#approve-publication button");
        s.click(&approve);
        s.accept_dialog();
        s.wait_for_page(base, &format!("/measures/{apply}/versions"));
        s.sign_out(base);
        // The outbox pushes the new measure to the entity it fits.
        let pass = huiqi::jobs::outbox::run_once(&svc, &huiqi::jobs::outbox::Channels::default()).unwrap();
        assert!(pass.pushed >= 1, "{pass:?}");

        // 2. The enterprise finds it in its inbox and applies with an attachment.
        s.sign_in_to(base, "qiye", "/my");
        s.go(&format!("{base}/my/entities/{code}/inbox"));
        s.wait_until("the push in the inbox", |s| {
            s.try_page_text().is_some_and(|t| t.contains("政策推送：研发费用补助"))
        });
        s.go(&format!("{base}/my/entities/{code}"));
        let button = s.find(&format!(r#"form.apply-line[data-measure="{apply}"] button"#));
        s.click(&button);
        let case_url = s.wait_for_url("/cases/");
        let case_path = case_url.trim_start_matches(base).to_string();
        s.attach_and_submit(&pdf_path, "张三", "审核中");
        s.sign_out(base);

        // 3. The reviewer returns it for supplement, with a reason.
        s.sign_in_to(base, "shenhe", "/staff");
        s.go(&format!("{base}/staff/cases"));
        let link = s.find(&format!(r#"#case-queue a[href="{case_path}"]"#));
        s.click(&link);
        s.wait_for_page(base, &case_path);
        s.fill("#decide textarea[name=reason]", "营业执照复印件不清晰，请重新上传");
        s.click_until("#return", "待补正");
        s.sign_out(base);

        // 4. The enterprise reads why, supplements and resubmits.
        s.sign_in_to(base, "qiye", "/my");
        s.go(&format!("{base}{case_path}"));
        s.wait_until("the reason", |s| s.try_page_text().is_some_and(|t| t.contains("营业执照复印件不清晰")));
        s.attach_and_submit(&pdf_path, "李四", "审核中");
        s.sign_out(base);

        // 5. Approved at every stage.
        s.sign_in_to(base, "shenhe", "/staff");
        s.go(&format!("{base}{case_path}"));
        let id: u64 = case_path.trim_start_matches("/cases/").parse().unwrap();
        let approve = s.find("#approve");
        s.click(&approve);
        s.wait_until("the second stage", |_| {
            svc.case_get(&system, huiqi::model::CaseId(id)).is_ok_and(|v| v.case.stage == 1)
        });
        s.wait_until("the page of the second stage", |s| {
            s.try_page_text().is_some_and(|t| t.contains("审核意见已提交"))
        });
        s.click_until("#approve", "已通过");
        let text = s.page_text();
        if !text.contains("核定金额") || !text.contains("20") {
            s.fail("the approved amount is not shown");
        }
        s.sign_out(base);

        // 6. The enterprise sees the outcome; an instant case is decided at once.
        s.sign_in_to(base, "qiye", "/my");
        s.go(&format!("{base}{case_path}"));
        s.wait_until("the approval", |s| {
            s.try_page_text().is_some_and(|t| t.contains("已通过") && t.contains("办理进度"))
        });
        s.go(&format!("{base}/my/entities/{code}"));
        let button = s.find(&format!(r#"form.apply-line[data-measure="{instant}"] button"#));
        s.click(&button);
        s.wait_for_url("/cases/");
        // Decided at once and, the measure having no disclosure, payable at once.
        s.attach_and_submit(&pdf_path, "王五", "待拨付");
    })
    .await;
}

impl Session {
    /// Resizes the browser window (the viewport follows).
    fn window(&self, width: u32, height: u32) {
        self.must("POST", "/window/rect", Some(json!({ "width": width, "height": height })));
    }

    /// Whether an element is shown.
    fn displayed(&self, element: &str) -> bool {
        self.must("GET", &format!("/element/{element}/displayed"), None).as_bool().unwrap_or(false)
    }

    /// Runs a script in the page and returns what it returns.
    fn script(&self, body: &str) -> Value {
        self.must("POST", "/execute/sync", Some(json!({ "script": body, "args": [] })))
    }

    /// The page is no wider than the window: nothing to scroll sideways.
    fn assert_fits(&self, what: &str) {
        let widths = self.script(
            "var w = window.innerWidth, out = null; \
             document.querySelectorAll('body *').forEach(function (e) { \
               var r = e.getBoundingClientRect(); \
               if (!out && r.right > w + 1 && getComputedStyle(e).position !== 'fixed') \
                 out = e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 60); }); \
             return [document.documentElement.scrollWidth, w, out];",
        );
        let (scroll, inner) = (widths[0].as_i64().unwrap_or(0), widths[1].as_i64().unwrap_or(0));
        assert!(scroll <= inner + 1, "{what}: the page is {scroll} px wide in a {inner} px window: {}", widths[2]);
    }
}

/// On a 390-px phone every public and enterprise page fits the screen, the header stays short
/// with a menu button that opens the navigation, and what is typed on the application form
/// survives an upload; on a 1366-px desktop the staff navigation stays on one line in Chinese
/// and in English; the rule builder's hidden live count takes no room, its ✕ buttons stay
/// small and field types read in Chinese (issue 10, defects 4, 10, 13, 16).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_phone_and_desktop_layouts() {
    use huiqi::model::{Capacity, Role, Who};
    let app = TestApp::with_demo(300);
    app.auth().demo_accounts().unwrap();
    let demo = app.svc().demo_cases().unwrap();
    let code = demo.also_for.first().cloned().expect("an entity with a returned case");
    app.account("phone", Role::Enterprise, None);
    app.auth().binding_grant(&Who::system("test"), "phone", &code, Capacity::Finance).unwrap();
    let returned = app
        .svc()
        .cases_of_entity(&Who::system("test"), &code)
        .unwrap()
        .into_iter()
        .find(|v| v.case.state == huiqi::model::case::CaseState::Returned)
        .expect("a returned case")
        .case
        .id;
    app.account("root2", Role::Sysadmin, None);
    app.account("builder2", Role::Publisher, Some("哈尔滨市人力资源和社会保障局"));
    let measure = app
        .svc()
        .policy_search(&Default::default(), huiqi::service::policies::Audience::Public)
        .unwrap()
        .iter()
        .flat_map(|p| p.measures.iter().map(|m| m.id))
        .next()
        .unwrap();
    let policy =
        app.svc().policy_search(&Default::default(), huiqi::service::policies::Audience::Public).unwrap()[0].policy.id;
    in_browser(app, move |s, base| {
        s.window(390, 844);
        for path in ["/", "/policies", "/calculator", &format!("/measures/{measure}"), "/login", "/register"] {
            s.go(&format!("{base}{path}"));
            s.assert_fits(path);
            let header = s.script("return document.querySelector('header.topbar').getBoundingClientRect().height;");
            assert!(header.as_f64().unwrap_or(999.0) <= 120.0, "{path}: the header is {header} px high");
        }
        // The menu: closed at first, opened by its button, every link on a line of its own.
        let nav = s.find("#main-nav");
        assert!(!s.displayed(&nav), "the navigation starts closed on a phone");
        s.click(&s.find("#menu-button"));
        s.wait_until("the menu to open", |s| s.displayed(&nav));
        let widths = s.script("return [...document.querySelectorAll('#main-nav a')].map(a => a.getBoundingClientRect().width);");
        for w in widths.as_array().unwrap() {
            assert!(w.as_f64().unwrap_or(0.0) > 200.0, "a menu link is {w} px wide: it wraps");
        }

        // The enterprise on its phone: its pages fit; typed input survives an upload.
        s.sign_in_to(base, "phone", "/my");
        // What waits for it leads: the returned case, counted in the top bar and on the card.
        let badge = s.text(&s.find("#todo-count"));
        assert!(badge.chars().any(|c| c.is_ascii_digit()), "the to-do count: {badge:?}");
        assert!(s.text(&s.find("#todo")).contains("退回补正的办件"));
        for path in ["/my".to_string(), format!("/my/entities/{code}"), format!("/cases/{returned}"), "/account".into()] {
            s.go(&format!("{base}{path}"));
            s.assert_fits(&path);
        }
        s.go(&format!("{base}/cases/{returned}"));
        if s.find_all("#case-form").is_empty() {
            panic!("no case form: {}", s.page_text());
        }
        let input = s.find("#case-form input[type=text], #case-form textarea");
        s.clear(&input);
        s.type_into(&input, "12");
        let file = std::env::temp_dir().join(format!("huiqi-phone-{}.pdf", std::process::id()));
        std::fs::write(&file, b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n").unwrap();
        s.type_into(&s.find("#upload-form input[type=file]"), &file.to_string_lossy());
        s.click_until("#upload", "附件已上传");
        let kept = s.prop(&s.find("#case-form input[type=text], #case-form textarea"), "value");
        assert_eq!(kept, "12", "the upload lost what was typed");
        s.assert_fits("the case after an upload");
        let _ = std::fs::remove_file(&file);
        // In English the case's state, history and next step read in English.
        s.go(&format!("{base}/lang/en?next=/cases/{returned}"));
        s.wait_for_page(base, &format!("/cases/{returned}"));
        let text = s.page_text();
        assert!(text.contains("Returned for supplement") && text.contains("Supplement as asked"), "{text}");
        assert!(!text.contains("待补正") && !text.contains("退回补正"), "{text}");
        s.go(&format!("{base}/lang/zh?next=/my"));
        s.sign_out(base);

        // The desktop: the administrator's navigation on one line, in Chinese and in English.
        s.window(1366, 900);
        s.sign_in(base, "root2");
        for lang in ["zh", "en"] {
            s.go(&format!("{base}/lang/{lang}?next=/staff"));
            s.wait_for_page(base, "/staff");
            let tops = s.script("return [...document.querySelectorAll('#main-nav a')].map(a => Math.round(a.getBoundingClientRect().top));");
            let tops: Vec<i64> = tops.as_array().unwrap().iter().filter_map(Value::as_i64).collect();
            assert!(tops.len() >= 6 && tops.iter().all(|t| *t == tops[0]), "{lang}: the navigation wraps: {tops:?}");
            let header = s.script("return document.querySelector('header.topbar').getBoundingClientRect().height;");
            assert!(header.as_f64().unwrap_or(999.0) <= 64.0, "{lang}: the header is {header} px high");
        }
        s.go(&format!("{base}/lang/zh?next=/staff"));
        s.wait_for_page(base, "/staff");
        s.sign_out(base);

        // The rule builder.
        s.sign_in(base, "builder2");
        s.go(&format!("{base}/staff/policies/{policy}/measures/new"));
        let live = s.script("var l = document.getElementById('live'); return [l.hidden, l.getBoundingClientRect().height];");
        if live[0].as_bool() == Some(true) {
            assert_eq!(live[1].as_f64(), Some(0.0), "the hidden live count takes room");
        }
        let buttons = s.script("return [...document.querySelectorAll('[data-remove-row]')].filter(b => b.offsetParent).map(b => b.getBoundingClientRect().width);");
        let buttons = buttons.as_array().unwrap();
        assert!(!buttons.is_empty());
        for w in buttons {
            assert!(w.as_f64().unwrap_or(999.0) < 60.0, "a ✕ button is {w} px wide");
        }
        let kinds = s.script("return [...document.querySelectorAll('select[name=ff_kind] option')].map(o => o.textContent);");
        let kinds: Vec<&str> = kinds.as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(kinds.contains(&"多行文字") && !kinds.contains(&"textarea"), "{kinds:?}");
    })
    .await;
}

/// 忘记密码 in the browser: from the sign-in page, a code by SMS (a real HTTP gateway on port
/// 0), a new password, and signing in with it (issue 10, "enterprise").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_forgotten_password_by_sms() {
    use huiqi::jobs::outbox::{DEFAULT_SMS_TEMPLATE, SmsGateway};
    let (port, bodies) = crate::common::fake_gateway();
    let mut app = TestApp::new();
    let gateway = SmsGateway::new(&format!("http://127.0.0.1:{port}/send"), DEFAULT_SMS_TEMPLATE, None).unwrap();
    app.state.sms = Some(std::sync::Arc::new(gateway));
    app.router = huiqi::http::router(app.state.clone());
    let mut new = huiqi::auth::NewUser::new("forgetful", huiqi::model::Role::Enterprise).named("王经理");
    new.phone = Some("13800138000".into());
    app.auth().user_create(&huiqi::model::Who::system("test"), new, Some(crate::common::PASSWORD)).unwrap();
    in_browser(app, move |s, base| {
        s.go(&format!("{base}/login"));
        s.click(&s.find(r#"a[href="/password/forgot"]"#));
        s.wait_for_page(base, "/password/forgot");
        s.type_into(&s.find("#identifier"), "forgetful");
        s.click(&s.find("main form button[type=submit]"));
        s.wait_until("the code to be sent", |s| !s.find_all("#code-requested").is_empty());
        let sms = poll(Duration::from_secs(10), || bodies.lock().unwrap().first().cloned()).expect("an SMS");
        let sms: Value = serde_json::from_str(&sms).unwrap();
        assert_eq!(sms["phone"], "13800138000");
        let text = sms["content"].as_str().unwrap();
        let after = &text[text.find("验证码").expect("a code in the SMS") + "验证码".len()..];
        let code: String = after.trim_start().chars().take_while(char::is_ascii_digit).collect();
        assert_eq!(code.len(), 6, "{text}");
        s.fill("#identifier", "forgetful");
        s.type_into(&s.find("#code"), &code);
        s.type_into(&s.find("#new"), "Lantern-Maple-37");
        s.type_into(&s.find("#new2"), "Lantern-Maple-37");
        s.click(&s.find("main form button[type=submit]"));
        s.wait_until("the sign-in page", |s| s.current_url().contains("/login"));
        s.type_into(&s.find("#username"), "forgetful");
        s.type_into(&s.find("#password"), "Lantern-Maple-37");
        s.click(&s.find("main form button[type=submit]"));
        s.wait_until("signing in with the new password", |s| !s.current_url().contains("/login"));
        assert!(!s.find_all("#account-link").is_empty(), "signed in");
    })
    .await;
}

/// The money half in the browser (issue 13): a publisher publishes an auto measure; its list is
/// proposed and another person confirms it; the enterprise accepts with its bank account; the
/// public disclosure shows it; an anonymous objection is refused, a real-name one taken and
/// dismissed; the period ends across the National Day holiday (and its make-up Saturday) and the
/// case is payable; a batch
/// is exported (the test reads the XLSX), its return file with a failure imported; the
/// enterprise corrects its account and is paid in the next batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_auto_list_disclosure_objection_batch_failure_paid() {
    use huiqi::model::{Capacity, MeasureSpec, PolicyInput, Role, Who};

    let app = TestApp::new();
    let dept = "哈尔滨市科学技术局";
    for (name, role, d) in [
        ("keji", Role::Publisher, Some(dept)),
        ("keji2", Role::Publisher, Some(dept)),
        ("shenhe", Role::Reviewer, Some(dept)),
        ("qiye", Role::Enterprise, None),
    ] {
        app.account(name, role, d);
    }
    let svc = app.svc().clone();
    // The clock at 2026-09-28 (a Monday), five working days before the National Day holiday ends.
    let clock = svc.config.clock.clone();
    let today = svc.today();
    clock.advance(i64::from(huiqi::model::Date::parse("2026-09-28").unwrap().days() - today.days()) * 86_400);
    let system = Who::system("test");
    let code = crate::common::credit_code(7);
    let pairs: Vec<(String, String)> = [
        ("credit_code", code.as_str()),
        ("name", "哈尔滨冰城智造有限公司"),
        ("region", "230102"),
        ("rd_expense", "200"),
        ("dishonest", "否"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    svc.entity_upsert(&system, &svc.entity_patch_from_texts(&pairs, false).unwrap()).unwrap();
    app.auth()
        .binding_grant(&system, "qiye", &huiqi::model::CreditCode::parse(&code).unwrap(), Capacity::LegalRep)
        .unwrap();
    let policy: PolicyInput = serde_json::from_value(json!({
        "title": "科技创新若干措施", "doc_number": "哈科规〔2026〕9号", "level": "municipal", "department": dept,
        "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2027-12-31",
        "text": "第一条", "interpretation": "", "tags": []
    }))
    .unwrap();
    let policy = svc.policy_create(&system, policy).unwrap();
    let spec: MeasureSpec = serde_json::from_value(json!({
        "name": "研发投入奖励（免申即享）", "department": dept, "mode": "auto", "category": "subsidy",
        "conditions": [{"label": "无失信记录", "expr": "!dishonest"}],
        "amount": "min(rd_expense * 0.1, 30)", "cap": 30, "budget": 500, "publicity_days": 5, "offer_days": 10,
        "fund_source": "市级科技专项资金", "contact": "0451-86612345"
    }))
    .unwrap();
    let keji = Who::user(&app.auth().principal_of("keji").unwrap().user, "test");
    let measure = svc.measure_create(&keji, policy.id, spec).unwrap().measure_id;
    let shenhe = Who::user(&app.auth().principal_of("shenhe").unwrap().user, "test");
    let files = tempfile::tempdir().unwrap();
    let csv_file = |name: &str, rows: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, format!("序号,统一社会信用代码,金额（元）,结果,支付日期,凭证号,失败原因\n{rows}"))
            .unwrap();
        path.to_string_lossy().into_owned()
    };
    let failed = csv_file("return1.csv", &format!("1,{code},200000.00,支付失败,,,户名不符\n"));
    let paid = csv_file("return2.csv", &format!("1,{code},200000.00,支付成功,2026-10-12,GK20261012001,\n"));

    in_browser(app, move |s, base| {
        let _keep = &files;
        // 1. Published with four eyes.
        s.sign_in_to(base, "keji", "/staff");
        s.go(&format!("{base}/measures/{measure}"));
        s.click_until("#request-publication button", "已提交发布申请");
        s.sign_out(base);
        s.sign_in_to(base, "keji2", "/staff");
        s.go(&format!("{base}/measures/{measure}"));
        let approve = s.find("#approve-publication button");
        s.click(&approve);
        s.accept_dialog();
        s.wait_for_page(base, &format!("/measures/{measure}/versions"));
        s.sign_out(base);

        // 2. keji proposes the list; keji2 confirms it.
        s.sign_in_to(base, "keji", "/staff");
        s.go(&format!("{base}/measures/{measure}"));
        s.click_until("#propose", "名单须由提出人以外的另一名工作人员复核确认");
        let list_url = s.current_url();
        assert!(s.page_text().contains("哈尔滨冰城智造有限公司"));
        s.sign_out(base);
        s.sign_in_to(base, "keji2", "/staff");
        s.go(&list_url);
        let confirm = s.find("#confirm-list");
        s.click(&confirm);
        s.accept_dialog();
        s.wait_until("the list confirmed", |s| s.try_page_text().is_some_and(|t| t.contains("名单已确认")));
        s.sign_out(base);

        // 3. The enterprise accepts with its bank account.
        s.sign_in_to(base, "qiye", "/my");
        s.go(&format!("{base}/my/entities/{code}"));
        let offer = s.find("#my-offers a");
        s.click(&offer);
        s.wait_for_url("/cases/");
        // The card links to the offer on the case page (`/cases/{id}#offer`).
        let case_url = s.current_url().split('#').next().unwrap_or_default().to_string();
        s.fill("#accept-form input[name=bank]", "中国银行哈尔滨分行");
        s.fill("#accept-form input[name=account]", "6217 0000 1234 5678");
        s.click_until("#accept", "已确认领取，收款账户已登记");
        s.sign_out(base);

        // 4. The department opens the disclosure: five working days across the holiday.
        s.sign_in_to(base, "shenhe", "/staff");
        s.go(&format!("{base}/measures/{measure}"));
        // 09-29, 09-30, (National Day 10-01 to 10-07), 10-08, 10-09 and the make-up Saturday 10-10.
        s.click_until("#open-disclosure", "2026-09-28 至 2026-10-10");
        let disclosure_url = s.current_url();
        s.sign_out(base);

        // 5. The public: an anonymous objection is refused, a real-name one taken.
        s.go(&disclosure_url);
        let text = s.page_text();
        assert!(text.contains("哈尔滨冰城智造有限公司") && text.contains("20") && !text.contains("6217"), "{text}");
        let object = s.find("a.object-link");
        s.click(&object);
        s.wait_for_url("/object");
        s.fill("#objection-form input[name=name]", "匿名");
        s.fill("#objection-form input[name=phone]", "13800000000");
        s.script("document.querySelector('#objection-form select[name=relation]').value = 'competitor';");
        s.fill("#objection-form textarea[name=facts]", "该企业研发投入数据不实，请予核查。");
        s.click_until("#submit-objection", "异议须实名提出");
        s.fill("#objection-form input[name=name]", "王五");
        s.script("document.querySelector('#objection-form select[name=relation]').value = 'competitor';");
        s.click_until("#submit-objection", "异议已受理");
        let receipt_url = s.current_url();

        // 6. The department dismisses it; the objector reads the outcome.
        s.sign_in_to(base, "shenhe", "/staff");
        s.go(&format!("{base}/staff/objections"));
        assert!(s.page_text().contains("王五"));
        s.fill(".objection textarea[name=reason]", "经核查，研发费用真实");
        s.click_until(".objection button[value=dismiss]", "经核查，研发费用真实（");
        s.sign_out(base);
        s.go(&receipt_url);
        s.wait_until("the outcome on the receipt", |s| s.try_page_text().is_some_and(|t| t.contains("异议不成立")));

        // 7. The period ends (2026-10-10, after the holiday): payable at the sweep the day after.
        clock.advance(13 * 86_400);
        svc.sweep().unwrap();
        let case_id: u64 = case_url.rsplit('/').next().unwrap().parse().unwrap();
        let state = svc.case_get(&system, huiqi::model::CaseId(case_id)).unwrap().case.state;
        assert_eq!(huiqi::model::Vocabulary::key(state), "payable");

        // 8. A batch, exported (the XLSX read back), its return file with the failure.
        s.sign_in_to(base, "shenhe", "/staff");
        s.go(&format!("{base}/staff/payments"));
        s.click_until("#make-batch", "导出与回单");
        let batch_url = s.current_url();
        let batch: u64 = batch_url.rsplit('/').next().unwrap().parse().unwrap();
        let (_, xlsx) = svc.payment_batch_export(&shenhe, batch, huiqi::import::Format::Xlsx, false).unwrap();
        let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
        let sheet = calamine::Reader::worksheet_range_at(&mut book, 0).unwrap().unwrap();
        let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        assert_eq!(
            rows[1][2..7],
            [
                "哈尔滨冰城智造有限公司".to_string(),
                code.clone(),
                "中国银行哈尔滨分行".into(),
                "6217000012345678".into(),
                "200000.00".into()
            ]
        );
        s.go(&batch_url);
        let input = s.find("#return-form input[type=file]");
        s.type_into(&input, &failed);
        s.click_until("#upload-return", "失败 1");
        s.sign_out(base);

        // 9. The enterprise corrects its account.
        s.sign_in_to(base, "qiye", "/my");
        s.go(&case_url);
        s.wait_until("the failure on the case", |s| s.try_page_text().is_some_and(|t| t.contains("户名不符")));
        s.fill("#correct-form input[name=bank]", "中国建设银行哈尔滨分行");
        s.fill("#correct-form input[name=account]", "6227000012345678");
        s.click_until("#correct-account", "收款账户已更正");
        s.sign_out(base);

        // 10. Paid in the next batch; the enterprise sees 已拨付 with the voucher.
        s.sign_in_to(base, "shenhe", "/staff");
        s.go(&format!("{base}/staff/payments"));
        s.click_until("#make-batch", "导出与回单");
        let next: u64 = s.current_url().rsplit('/').next().unwrap().parse().unwrap();
        assert_ne!(next, batch);
        svc.payment_batch_export(&shenhe, next, huiqi::import::Format::Csv, true).unwrap();
        s.go(&format!("{base}/staff/payments/{next}"));
        let input = s.find("#return-form input[type=file]");
        s.type_into(&input, &paid);
        s.click_until("#upload-return", "支付成功 1");
        s.sign_out(base);
        s.sign_in_to(base, "qiye", "/my");
        s.go(&case_url);
        s.wait_until("paid", |s| {
            s.try_page_text().is_some_and(|t| t.contains("已拨付") && t.contains("GK20261012001"))
        });
    })
    .await;
}
